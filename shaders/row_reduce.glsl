// row_reduce.glsl: sums and maxima over a workgroup of ROW_THREADS
// invocations, for the kernels that give each row a workgroup (GPUs: one
// invocation a row leaves most of the device idle at batch 1).
// By default a tree over shared memory, so it needs no subgroup feature.
// With ROW_SUBGROUPS (the includer enables GL_KHR_shader_subgroup_basic and
// _arithmetic), each subgroup reduces in registers and the workgroup adds
// the subgroups' results from shared memory: one barrier pair a reduction,
// not one barrier a tree level. Every invocation adds them in the same
// order, so all see the same total.
const uint ROW_THREADS = 128;
shared float row_partial[ROW_THREADS];

#ifdef ROW_SUBGROUPS
float row_sum(float v)
{
    float part = subgroupAdd(v);
    if (subgroupElect())
        row_partial[gl_SubgroupID] = part;
    barrier();
    float total = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++)
        total += row_partial[i];
    barrier(); // before the next call overwrites it
    return total;
}

float row_max(float v)
{
    float part = subgroupMax(v);
    if (subgroupElect())
        row_partial[gl_SubgroupID] = part;
    barrier();
    float m = row_partial[0];
    for (uint i = 1; i < gl_NumSubgroups; i++)
        m = max(m, row_partial[i]);
    barrier();
    return m;
}
#else

float row_sum(float v)
{
    uint lid = gl_LocalInvocationID.x;
    row_partial[lid] = v;
    barrier();
    for (uint s = ROW_THREADS / 2; s > 0; s >>= 1) {
        if (lid < s)
            row_partial[lid] += row_partial[lid + s];
        barrier();
    }
    float total = row_partial[0];
    barrier(); // before the next call overwrites it
    return total;
}

float row_max(float v)
{
    uint lid = gl_LocalInvocationID.x;
    row_partial[lid] = v;
    barrier();
    for (uint s = ROW_THREADS / 2; s > 0; s >>= 1) {
        if (lid < s)
            row_partial[lid] = max(row_partial[lid], row_partial[lid + s]);
        barrier();
    }
    float m = row_partial[0];
    barrier();
    return m;
}
#endif
