/* examples.c: few-shot classifiers (vkclip_classifier_add_examples): each
 * label's prompt embedding blended with the mean embedding of example
 * images, one folder of them per label. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "classifier.h"
#include "image/image.h"
#include "vkclip_internal.h"

#define EXAMPLE_BATCH 8

static int label_index(const classifier *c, const char *name)
{
    for (int i = 0; i < c->labels; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    return -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a folder (hidden ones passed by), sorted; NULL on error. */
static char **list_folder(const char *dir, int *count, errbuf *e)
{
    DIR *d = opendir(dir);
    if (!d) {
        errbuf_set(e, "%s: cannot open the folder", dir);
        return NULL;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *ent; (ent = readdir(d));) {
        if (ent->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        names[n++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    *count = n;
    return names ? names : calloc(1, sizeof *names);
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Adds the embeddings of the images in folder to sum; their count, or -1. */
static int embed_folder(vkclip_model *m, const char *folder, double *sum, int dim, errbuf *e)
{
    int n = 0, used = 0;
    char **files = list_folder(folder, &n, e);
    if (!files)
        return -1;
    rgb_image images[EXAMPLE_BATCH];
    vkclip_frame frames[EXAMPLE_BATCH];
    float *out = malloc((size_t)EXAMPLE_BATCH * (size_t)dim * sizeof *out);
    int status = out ? 0 : -1;
    for (int first = 0; status == 0 && first < n; first += EXAMPLE_BATCH) {
        int count = 0;
        for (int i = first; status == 0 && i < n && i < first + EXAMPLE_BATCH; i++) {
            char *path = malloc(strlen(folder) + strlen(files[i]) + 2);
            if (path)
                sprintf(path, "%s/%s", folder, files[i]);
            bool loaded = path && rgb_image_load(&images[count], path, e);
            free(path);
            if (!loaded) {
                status = -1;
                break;
            }
            frames[count] = (vkclip_frame){.format = VKCLIP_FORMAT_RGB, .width = images[count].width,
                                           .height = images[count].height};
            frames[count].planes[0] = images[count].pixels;
            frames[count].strides[0] = 3 * images[count].width;
            count++;
        }
        vkclip_error err;
        if (status == 0 && count > 0 && vkclip_encode_images(m, frames, count, out, true, &err) != 0) {
            errbuf_set(e, "%s: %s", folder, err.message);
            status = -1;
        }
        for (int j = 0; status == 0 && j < count; j++)
            for (int k = 0; k < dim; k++)
                sum[k] += out[(size_t)j * (size_t)dim + (size_t)k];
        used += status == 0 ? count : 0;
        for (int j = 0; j < count; j++)
            rgb_image_free(&images[j]);
    }
    free(out);
    free_names(files, n);
    if (status == 0 && used == 0) {
        errbuf_set(e, "%s: no example images", folder);
        status = -1;
    }
    return status == 0 ? used : -1;
}

int vkclip_classifier_add_examples(vkclip_classifier *vc, vkclip_model *m, const char *dir, float weight,
                                   vkclip_error *err)
{
    errbuf e = {{0}};
    classifier *c = &vc->c;
    if (!(weight >= 0.0f && weight <= 1.0f)) {
        errbuf_set(&e, "the examples' weight must lie in 0..1, not %g", (double)weight);
        export_error(err, &e);
        return -1;
    }
    int n = 0, total = 0;
    char **folders = list_folder(dir, &n, &e);
    double *sum = calloc((size_t)c->dim, sizeof *sum);
    if (!folders || !sum)
        total = -1;
    for (int i = 0; total >= 0 && i < n; i++) {
        char *path = malloc(strlen(dir) + strlen(folders[i]) + 2);
        struct stat st;
        if (!path) {
            errbuf_set(&e, "out of memory");
            total = -1;
            break;
        }
        sprintf(path, "%s/%s", dir, folders[i]);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(path);
            continue; /* a README beside the folders */
        }
        int label = label_index(c, folders[i]);
        if (label < 0) {
            errbuf_set(&e, "%s: the folder names no label", path);
            free(path);
            total = -1;
            break;
        }
        memset(sum, 0, (size_t)c->dim * sizeof *sum);
        int used = embed_folder(m, path, sum, c->dim, &e);
        free(path);
        if (used < 0 || !classifier_blend(c, label, sum, weight)) {
            if (used >= 0)
                errbuf_set(&e, "out of memory");
            total = -1;
            break;
        }
        total += used;
    }
    if (total == 0 && n >= 0 && folders) {
        errbuf_set(&e, "%s: no label folders of example images", dir);
        total = -1;
    }
    free(sum);
    if (folders)
        free_names(folders, n);
    if (total < 0)
        export_error(err, &e);
    return total;
}
