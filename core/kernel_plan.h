/* kernel_plan: which kernel runs each operation on a device, chosen when the
 * device is opened from what it is, together with the weight layout the chosen
 * matmul reads (weights are packed for one plan and only read by it).
 *
 * Two plans so far:
 *   lavapipe  the CPU driver's kernels: register-tiled matmuls fed by texel
 *             fetches, attention as QKᵀ, softmax and P·V, an invocation per
 *             LayerNorm or softmax row. The default on CPU devices.
 *   gpu       workgroup tiles staged in shared memory, attention fused per
 *             head with an online softmax, a workgroup per row. The default
 *             on every other device.
 * Both insert a barrier only before a dispatch that touches what an earlier
 * one wrote (or writes what it read).
 *
 * VKCLIP_KERNELS overrides the device's plan, so that the tests run every
 * variant on lavapipe: a plan's name, then comma-separated items applied in
 * order, e.g. "gpu", "lavapipe,attention=fused", "gemm=shared:8x4":
 *   gemm=register | shared[:TMxTN] | coopmat
 *                                    (shared: TM, TN in 1..8, outputs a thread;
 *                                    coopmat: VK_NV_cooperative_matrix, off by
 *                                    default until it has run on a GPU)
 *   attention=split | fused
 *   rows=thread | group | subgroup   (subgroup: a workgroup a row, reduced with
 *                                    subgroup arithmetic where the device has it)
 *   barriers=needed | every          (every: a full barrier after each dispatch)
 *   upload=inline | queue            (frames staged in host memory, where the
 *                                    device cannot map its own: copied at the
 *                                    head of the batch's preprocessing, or
 *                                    submitted before it on the transfer queue
 *                                    so the copy overlaps the batch before)
 * A value that does not parse is reported on stderr once and the device's
 * plan is kept. VKCLIP_TILES still sets the register kernel's tiles. */
#ifndef VKCLIP_KERNEL_PLAN_H
#define VKCLIP_KERNEL_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"

typedef enum matmul_kind {
    MATMUL_REGISTER, /* matmul.comp: TM × TN a thread, WG threads a row of the workgroup */
    MATMUL_SHARED,   /* matmul_tiled.comp: 16 × 16 threads of TM × TN, tiles in shared memory */
    MATMUL_COOPMAT,  /* matmul_coopmat.comp for fp16 weights (tensor cores), else the shared kernel at 4 × 4 */
} matmul_kind;

typedef struct matmul_tiles {
    matmul_kind kind;
    uint32_t tm, tn, wg; /* wg: the register kernel's workgroup width (unused by the shared one) */
} matmul_tiles;

/* The columns of C one workgroup owns, and so the block a packed weight is
 * padded and interleaved in (ops.c pack_weight). */
uint32_t matmul_pack_block(matmul_tiles t);

typedef struct kernel_plan {
    const char *name;      /* "lavapipe", "gpu", or "custom" after VKCLIP_KERNELS items */
    matmul_tiles linear;   /* the linear layers' matmul, hence the packing of their weights */
    bool fused_attention;  /* softmax(QKᵀ)V one pass per head; else three kernels */
    bool row_groups;       /* LayerNorm and softmax: a workgroup a row; else an invocation */
    bool row_subgroups;    /* those workgroups reduce with subgroup arithmetic; else a shared-memory tree */
    bool every_barrier;    /* a barrier after every dispatch; else only where needed */
    bool upload_queue;     /* frame copies submitted on their own (transfer queue); else in the batch */
} kernel_plan;

/* The plan for a device: `cpu_device` picks the lavapipe plan, else the gpu
 * plan; then `overrides` (VKCLIP_KERNELS' text; NULL or "" for none). False
 * with the reason in err when it does not parse (*out is the device's plan
 * then). */
bool kernel_plan_make(bool cpu_device, const char *overrides, kernel_plan *out, errbuf *err);

/* kernel_plan_make on VKCLIP_KERNELS, then VKCLIP_TILES for a register
 * kernel; a bad VKCLIP_KERNELS is reported once per process
 * ("vkclip: VKCLIP_KERNELS='...' ignored: <reason>; using the ... plan"). */
kernel_plan kernel_plan_from_env(bool cpu_device);

/* Whether VKCLIP_KERNELS asks for gemm=coopmat (read before the device is
 * made, since cooperative matrices are enabled at its creation); silent. */
bool kernel_plan_env_wants_coopmat(void);

/* "gpu: gemm=shared:4x4 attention=fused rows=group barriers=needed upload=queue" */
void kernel_plan_describe(const kernel_plan *p, char *out, size_t size);

#endif
