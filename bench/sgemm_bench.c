/* sgemm_bench: the machine's own ceiling for the CPU backend. Times
 * OpenBLAS's sgemm on exactly the GEMMs of one ViT image-tower forward pass
 * (patch embedding; per layer q|k|v, out_proj, fc1, fc2; the projection)
 * at a batch size, with the backend's layout (activations [M][K], weights
 * [N][K]; a weight matrix of its own for every GEMM of every layer, so that
 * weights stream from memory as the model's do), and prints their time and rate; then the same through oneDNN's
 * dnnl_sgemm where the build found it (libdnnl-dev), to choose between the two.
 *
 *   sgemm_bench [--batch B] [--width D] [--layers L] [--patch P] [--image S] [--seconds T]
 *
 * Defaults are ViT-B/32's (768 wide, 12 layers, patch 32 at 224). oneDNN
 * runs on OpenMP's threads: set OMP_WAIT_POLICY=PASSIVE as for PyTorch, or
 * its spinning threads take the cores from OpenBLAS's. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct gemm {
    int M, N, K, count;
    float **weights; /* count of them, N x K each */
} gemm;

typedef void (*sgemm_fn)(const gemm *g, const float *a, const float *b, float *c);

static void openblas_sgemm(const gemm *g, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->M, g->N, g->K, 1.0f, a, g->K, b, g->K, 0.0f, c, g->N);
}

#ifdef HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

static void onednn_sgemm(const gemm *g, const float *a, const float *b, float *c)
{
    dnnl_sgemm('N', 'T', g->M, g->N, g->K, 1.0f, a, g->K, b, g->K, 0.0f, c, g->N);
}
#endif

/* Seconds per forward pass: every GEMM, as many passes as fit in `seconds` (two at least). */
static double time_passes(sgemm_fn run, const gemm *gemms, int n, const float *a, float *c, double seconds)
{
    for (int i = 0; i < n; i++) /* warm-up: threads started, buffers touched */
        run(&gemms[i], a, gemms[i].weights[0], c);
    int passes = 0;
    double start = now(), elapsed = 0;
    do {
        for (int i = 0; i < n; i++)
            for (int r = 0; r < gemms[i].count; r++)
                run(&gemms[i], a, gemms[i].weights[r], c);
        passes++;
        elapsed = now() - start;
    } while (elapsed < seconds || passes < 2);
    return elapsed / passes;
}

int main(int argc, char **argv)
{
    int batch = 1, D = 768, layers = 12, patch = 32, image = 224;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        int *target = !strcmp(argv[i], "--batch") ? &batch : !strcmp(argv[i], "--width") ? &D
                      : !strcmp(argv[i], "--layers") ? &layers : !strcmp(argv[i], "--patch") ? &patch
                      : !strcmp(argv[i], "--image") ? &image : NULL;
        if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (target)
            *target = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "sgemm_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int grid = image / patch, tokens = grid * grid + 1, rows = batch * tokens;
    gemm gemms[] = {
        {batch * grid * grid, D, 3 * patch * patch, 1, NULL}, /* patch embedding */
        {rows, 3 * D, D, layers, NULL},                       /* q|k|v */
        {rows, D, D, layers, NULL},                           /* out_proj */
        {rows, 4 * D, D, layers, NULL},                       /* fc1 */
        {rows, D, 4 * D, layers, NULL},                       /* fc2 */
        {batch, D, D, 1, NULL},                               /* projection */
    };
    int n = sizeof gemms / sizeof gemms[0];
    size_t most_a = 0, most_c = 0;
    double flops = 0;
    for (int i = 0; i < n; i++) {
        gemm g = gemms[i];
        most_a = (size_t)g.M * g.K > most_a ? (size_t)g.M * g.K : most_a;
        most_c = (size_t)g.M * g.N > most_c ? (size_t)g.M * g.N : most_c;
        flops += 2.0 * g.M * g.N * g.K * g.count;
    }
    float *a = calloc(most_a, 4), *c = calloc(most_c, 4);
    if (!a || !c)
        return 1;
    for (size_t i = 0; i < most_a; i++)
        a[i] = (float)(i % 17) * 0.01f;
    for (int i = 0; i < n; i++) {
        size_t size = (size_t)gemms[i].N * gemms[i].K;
        if (!(gemms[i].weights = calloc((size_t)gemms[i].count, sizeof *gemms[i].weights)))
            return 1;
        for (int r = 0; r < gemms[i].count; r++) {
            float *w = gemms[i].weights[r] = malloc(size * 4);
            if (!w)
                return 1;
            for (size_t j = 0; j < size; j++)
                w[j] = (float)((j + (size_t)r) % 13) * 0.01f;
        }
    }
    double pass = time_passes(openblas_sgemm, gemms, n, a, c, seconds);
    printf("batch: %d\n", batch);
    printf("gemm ms per forward pass: %.2f\n", pass * 1e3);
    printf("gflop/s: %.1f\n", flops / pass * 1e-9);
    printf("images/s if only the GEMMs ran: %.2f\n", batch / pass);
#ifdef HAVE_ONEDNN
    pass = time_passes(onednn_sgemm, gemms, n, a, c, seconds);
    printf("onednn gemm ms per forward pass: %.2f\n", pass * 1e3);
    printf("onednn gflop/s: %.1f\n", flops / pass * 1e-9);
    printf("onednn images/s if only the GEMMs ran: %.2f\n", batch / pass);
#endif
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < gemms[i].count; r++)
            free(gemms[i].weights[r]);
        free(gemms[i].weights);
    }
    free(a), free(c);
    return 0;
}
