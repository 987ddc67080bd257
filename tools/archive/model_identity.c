/* model_identity: fingerprint of a model directory (see model_identity.h). */
#include "model_identity.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#define SAMPLE_BYTES ((gint64)1 << 20)
#define SAMPLE_STRIDE ((gint64)64 << 20)

static int hash_range(GChecksum *sum, FILE *f, gint64 offset, gint64 length, guint8 *buf)
{
    if (fseeko(f, offset, SEEK_SET) != 0)
        return -1;
    while (length > 0) {
        size_t want = length < SAMPLE_BYTES ? (size_t)length : (size_t)SAMPLE_BYTES;
        size_t got = fread(buf, 1, want, f);
        if (got != want)
            return -1;
        g_checksum_update(sum, buf, got);
        length -= (gint64)got;
    }
    return 0;
}

/* name, size, then samples; a missing optional file adds only its name. */
static int hash_file(GChecksum *sum, const char *dir, const char *name, gboolean sampled, gboolean required,
                     char *err, size_t cap)
{
    char *path = g_build_filename(dir, name, NULL);
    g_checksum_update(sum, (const guchar *)name, (gssize)strlen(name) + 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int saved = errno;
        if (!required && saved == ENOENT) {
            g_free(path);
            return 0;
        }
        snprintf(err, cap, "%s: %s", path, g_strerror(saved));
        g_free(path);
        return -1;
    }
    int status = -1;
    guint8 *buf = g_malloc(SAMPLE_BYTES);
    if (fseeko(f, 0, SEEK_END) == 0) {
        gint64 size = ftello(f);
        g_checksum_update(sum, (const guchar *)&size, sizeof size);
        status = 0;
        if (!sampled) {
            status = hash_range(sum, f, 0, size, buf);
        } else {
            for (gint64 at = 0; status == 0 && at < size; at += SAMPLE_STRIDE)
                status = hash_range(sum, f, at, MIN(SAMPLE_BYTES, size - at), buf);
            if (status == 0 && size > SAMPLE_BYTES)
                status = hash_range(sum, f, size - SAMPLE_BYTES, SAMPLE_BYTES, buf);
        }
    }
    if (status != 0)
        snprintf(err, cap, "%s: cannot be read", path);
    g_free(buf);
    fclose(f);
    g_free(path);
    return status;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int model_identity(const char *dir, char out[65], char *err, size_t cap)
{
    GError *gerr = NULL;
    GDir *d = g_dir_open(dir, 0, &gerr);
    if (!d) {
        snprintf(err, cap, "%s: %s", dir, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    GPtrArray *weights = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; (name = g_dir_read_name(d));)
        if (g_str_has_suffix(name, ".safetensors"))
            g_ptr_array_add(weights, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(weights, compare_names);

    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    int status = hash_file(sum, dir, "config.json", FALSE, TRUE, err, cap);
    if (status == 0)
        status = hash_file(sum, dir, "preprocessor_config.json", FALSE, FALSE, err, cap);
    if (status == 0 && weights->len == 0) {
        snprintf(err, cap, "%s: no .safetensors weights", dir);
        status = -1;
    }
    for (guint i = 0; status == 0 && i < weights->len; i++)
        status = hash_file(sum, dir, weights->pdata[i], TRUE, TRUE, err, cap);
    if (status == 0)
        g_strlcpy(out, g_checksum_get_string(sum), 65);
    g_checksum_free(sum);
    g_ptr_array_free(weights, TRUE);
    return status;
}
