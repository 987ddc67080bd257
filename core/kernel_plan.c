#include "kernel_plan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/env_tiles.h"

uint32_t matmul_pack_block(matmul_tiles t)
{
    return t.kind == MATMUL_COOPMAT ? 64 : t.kind == MATMUL_SHARED ? 16 * t.tn : t.wg * t.tn;
}

/* The CPU driver: fetches are function calls and arithmetic is cheap, so
 * large register tiles; eight-wide workgroups, its SIMD width. */
static const kernel_plan lavapipe_plan = {
    .name = "lavapipe",
    .linear = {.kind = MATMUL_REGISTER, .tm = 12, .tn = 8, .wg = 8},
};

static const kernel_plan gpu_plan = {
    .name = "gpu",
    .linear = {.kind = MATMUL_SHARED, .tm = 4, .tn = 4, .wg = 256},
    .fused_attention = true,
    .row_groups = true,
    .upload_queue = true,
};

/* "TMxTN" with each in 1..8. */
static bool parse_shared_tiles(const char *s, size_t len, matmul_tiles *t)
{
    if (len != 3 || s[1] != 'x' || s[0] < '1' || s[0] > '8' || s[2] < '1' || s[2] > '8')
        return false;
    t->tm = (uint32_t)(s[0] - '0');
    t->tn = (uint32_t)(s[2] - '0');
    return true;
}

static bool is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(s, word, len) == 0;
}

/* One item: a plan's name or key=value. */
static bool apply_item(kernel_plan *p, const char *s, size_t len, errbuf *err)
{
    if (is(s, len, "gpu") || is(s, len, "lavapipe")) {
        *p = is(s, len, "gpu") ? gpu_plan : lavapipe_plan;
        return true;
    }
    const char *eq = memchr(s, '=', len);
    if (!eq)
        return errbuf_set(err, "'%.*s' is neither a plan (gpu, lavapipe) nor key=value", (int)len, s);
    size_t klen = (size_t)(eq - s);
    const char *v = eq + 1;
    size_t vlen = len - klen - 1;
    bool ok = false;
    if (is(s, klen, "gemm")) {
        if (is(v, vlen, "register")) {
            p->linear = lavapipe_plan.linear;
            ok = true;
        } else if (is(v, vlen, "coopmat")) {
            p->linear = (matmul_tiles){.kind = MATMUL_COOPMAT, .tm = 4, .tn = 4, .wg = 128};
            ok = true;
        } else if (vlen >= 6 && strncmp(v, "shared", 6) == 0) {
            p->linear = gpu_plan.linear;
            ok = vlen == 6 || (v[6] == ':' && parse_shared_tiles(v + 7, vlen - 7, &p->linear));
        }
    } else if (is(s, klen, "attention")) {
        ok = is(v, vlen, "split") || is(v, vlen, "fused");
        p->fused_attention = is(v, vlen, "fused");
    } else if (is(s, klen, "rows")) {
        ok = is(v, vlen, "thread") || is(v, vlen, "group") || is(v, vlen, "subgroup");
        p->row_groups = !is(v, vlen, "thread");
        p->row_subgroups = is(v, vlen, "subgroup");
    } else if (is(s, klen, "barriers")) {
        ok = is(v, vlen, "needed") || is(v, vlen, "every");
        p->every_barrier = is(v, vlen, "every");
    } else if (is(s, klen, "upload")) {
        ok = is(v, vlen, "inline") || is(v, vlen, "queue");
        p->upload_queue = is(v, vlen, "queue");
    } else {
        return errbuf_set(err, "unknown item '%.*s' (want gemm, attention, rows, barriers or upload)", (int)klen,
                          s);
    }
    if (!ok)
        return errbuf_set(err, "bad value in '%.*s'", (int)len, s);
    p->name = "custom";
    return true;
}

bool kernel_plan_make(bool cpu_device, const char *overrides, kernel_plan *out, errbuf *err)
{
    kernel_plan device = cpu_device ? lavapipe_plan : gpu_plan;
    kernel_plan p = device;
    bool ok = true;
    for (const char *s = overrides; s && *s && ok;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        ok = len > 0 ? apply_item(&p, s, len, err) : errbuf_set(err, "an empty item");
        s = comma ? comma + 1 : s + len;
        if (ok && comma && !*s)
            ok = errbuf_set(err, "an empty item");
    }
    *out = ok ? p : device;
    return ok;
}

static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static bool warned_once;

kernel_plan kernel_plan_from_env(bool cpu_device)
{
    const char *value = getenv("VKCLIP_KERNELS");
    errbuf e = {{0}};
    kernel_plan p;
    /* The tiles' own warning comes from env_tiles_from_env, once. */
    env_tiles t;
    bool tiles_set = env_tiles_from_env(&t);
    bool ok = kernel_plan_make(cpu_device, value, &p, &e);
    if (tiles_set && p.linear.kind == MATMUL_REGISTER)
        p.linear = (matmul_tiles){.kind = MATMUL_REGISTER, .tm = t.tm, .tn = t.tn, .wg = t.wg};
    pthread_mutex_lock(&warn_lock);
    if (!ok && !warned_once) {
        warned_once = true;
        /* The reason quotes the value too: both shown without control bytes. */
        char shown[72], reason[sizeof e.msg];
        env_value_shown(value, shown, sizeof shown);
        env_value_shown(e.msg, reason, sizeof reason);
        fprintf(stderr, "vkclip: VKCLIP_KERNELS='%s' ignored: %s; using the %s plan\n", shown, reason, p.name);
    }
    pthread_mutex_unlock(&warn_lock);
    return p;
}

bool kernel_plan_env_wants_coopmat(void)
{
    kernel_plan p;
    errbuf e = {{0}};
    return kernel_plan_make(false, getenv("VKCLIP_KERNELS"), &p, &e) && p.linear.kind == MATMUL_COOPMAT;
}

void kernel_plan_describe(const kernel_plan *p, char *out, size_t size)
{
    char gemm[32];
    if (p->linear.kind == MATMUL_COOPMAT)
        snprintf(gemm, sizeof gemm, "coopmat");
    else if (p->linear.kind == MATMUL_SHARED)
        snprintf(gemm, sizeof gemm, "shared:%ux%u", p->linear.tm, p->linear.tn);
    else
        snprintf(gemm, sizeof gemm, "register:%u,%u,%u", p->linear.tm, p->linear.tn, p->linear.wg);
    snprintf(out, size, "%s: gemm=%s attention=%s rows=%s barriers=%s upload=%s", p->name, gemm,
             p->fused_attention ? "fused" : "split", p->row_subgroups ? "subgroup" : p->row_groups ? "group" : "thread",
             p->every_barrier ? "every" : "needed", p->upload_queue ? "queue" : "inline");
}
