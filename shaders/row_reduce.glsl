// row_reduce.glsl: sums and maxima over a workgroup of ROW_THREADS
// invocations, for the kernels that give each row a workgroup (GPUs: one
// invocation a row leaves most of the device idle at batch 1). A tree over
// shared memory, so it needs no subgroup feature.
const uint ROW_THREADS = 128;
shared float row_partial[ROW_THREADS];

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
