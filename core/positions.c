#include "positions.h"

#include "preprocess.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define CUBIC_A (-0.75f)

/* Weights of the samples at floor - 1 .. floor + 2 for a fraction t. */
static void cubic_weights(float t, float w[4])
{
    const float A = CUBIC_A;
    float x0 = t + 1.0f, x3 = 2.0f - t, x2 = 1.0f - t;
    w[0] = ((A * x0 - 5.0f * A) * x0 + 8.0f * A) * x0 - 4.0f * A;
    w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
}

/* The four source indices and weights of output index i. */
static void taps(int i, int in, int out, int index[4], float w[4])
{
    float scale = (float)in / (float)out;
    float real = scale * ((float)i + 0.5f) - 0.5f; /* not clamped at 0: bicubic keeps the sign */
    float lo = floorf(real);
    cubic_weights(real - lo, w);
    for (int k = 0; k < 4; k++) {
        int at = (int)lo - 1 + k;
        index[k] = at < 0 ? 0 : at > in - 1 ? in - 1 : at;
    }
}

void positions_resample_bicubic(const float *in, int grid, int D, float *out, int out_h, int out_w)
{
    for (int y = 0; y < out_h; y++) {
        int ys[4];
        float wy[4];
        taps(y, grid, out_h, ys, wy);
        for (int x = 0; x < out_w; x++) {
            int xs[4];
            float wx[4];
            taps(x, grid, out_w, xs, wx);
            float *dst = out + ((size_t)y * out_w + x) * D;
            for (int d = 0; d < D; d++) {
                float rows[4];
                for (int k = 0; k < 4; k++) {
                    const float *row = in + (size_t)ys[k] * grid * D + d;
                    rows[k] = row[(size_t)xs[0] * D] * wx[0] + row[(size_t)xs[1] * D] * wx[1] +
                              row[(size_t)xs[2] * D] * wx[2] + row[(size_t)xs[3] * D] * wx[3];
                }
                dst[d] = rows[0] * wy[0] + rows[1] * wy[1] + rows[2] * wy[2] + rows[3] * wy[3];
            }
        }
    }
}

/* The [out][in] matrix of the resize along one axis (each row's weights
 * sum to 1), computed in double (PyTorch uses float for float input: the two
 * differ by about 1e-7). */
static float *aa_matrix(int in, int out)
{
    float *m = calloc((size_t)in * out, sizeof *m);
    double *w = malloc((size_t)in * sizeof *w);
    if (!m || !w) {
        free(m);
        free(w);
        return NULL;
    }
    double scale = (double)in / (double)out;
    double support = scale >= 1.0 ? 2.0 * scale : 2.0, inv = scale >= 1.0 ? 1.0 / scale : 1.0;
    for (int i = 0; i < out; i++) {
        double centre = scale * (i + 0.5);
        int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        double total = 0;
        for (int j = lo; j < hi; j++)
            total += w[j] = pillow_bicubic((j - centre + 0.5) * inv);
        for (int j = lo; j < hi; j++)
            m[(size_t)i * in + j] = (float)(total != 0.0 ? w[j] / total : w[j]);
    }
    free(w);
    return m;
}

bool positions_resample_antialiased(const float *in, int grid, int D, float *out, int out_h, int out_w)
{
    float *wy = aa_matrix(grid, out_h), *wx = aa_matrix(grid, out_w);
    bool ok = wy && wx;
    for (int y = 0; ok && y < out_h; y++)
        for (int x = 0; x < out_w; x++) {
            float *dst = out + ((size_t)y * out_w + x) * D;
            for (int d = 0; d < D; d++) {
                float sum = 0.0f;
                for (int j = 0; j < grid; j++) {
                    float fy = wy[(size_t)y * grid + j];
                    if (fy == 0.0f)
                        continue;
                    const float *row = in + (size_t)j * grid * D + d;
                    float along = 0.0f;
                    for (int k = 0; k < grid; k++)
                        along += row[(size_t)k * D] * wx[(size_t)x * grid + k];
                    sum += along * fy;
                }
                dst[d] = sum;
            }
        }
    free(wy);
    free(wx);
    return ok;
}
