/* gstclipmodels.c: a process-wide table of loaded devices and models,
 * reference-counted, behind one lock (loading is rare; use is lock-free
 * because the engine itself is thread-safe). */
#include "gstclipmodels.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct SharedDevice {
    vkclip_device *dev;
    gint index;
    gint threads; /* as asked for; only the CPU backend has any */
    guint users;
} SharedDevice;

struct GstClipSharedModel {
    gchar *dir; /* canonical path: "m" and "./m" are one model */
    SharedDevice *device;
    vkclip_precision precision;
    vkclip_model *model;
    guint users;
};

static GMutex table_lock;
static GList *devices; /* SharedDevice* */
static GList *models;  /* GstClipSharedModel* */

static SharedDevice *find_device(gint index, gint threads)
{
    for (GList *l = devices; l; l = l->next) {
        SharedDevice *d = l->data;
        if (d->index == index && (index != VKCLIP_DEVICE_CPU || d->threads == threads))
            return d;
    }
    return NULL;
}

/* The device for an index (VKCLIP_DEVICE_CPU: the CPU backend); -1 is
 * resolved by opening, since only the engine knows which device "best" is. */
static SharedDevice *acquire_device(gint index, gint threads, gchar **error)
{
    SharedDevice *d = index != VKCLIP_DEVICE_BEST ? find_device(index, threads) : NULL;
    if (d) {
        d->users++;
        return d;
    }
    vkclip_error err = {{0}};
    vkclip_device_options opts = {.device_index = index, .threads = threads};
    vkclip_device *dev = vkclip_device_open(&opts, &err);
    if (!dev) {
        *error = g_strdup(err.message);
        return NULL;
    }
    d = find_device(vkclip_device_index(dev), threads);
    if (d) { /* "best" named a device already open */
        vkclip_device_free(dev);
        d->users++;
        return d;
    }
    d = g_new0(SharedDevice, 1);
    d->dev = dev;
    d->index = vkclip_device_index(dev);
    d->threads = threads;
    d->users = 1;
    devices = g_list_prepend(devices, d);
    return d;
}

static void release_device(SharedDevice *d)
{
    if (--d->users > 0)
        return;
    devices = g_list_remove(devices, d);
    vkclip_device_free(d->dev);
    g_free(d);
}

GstClipSharedModel *gst_clip_models_acquire(const gchar *dir, gint device, gint threads, vkclip_precision precision,
                                            gchar **error)
{
    char *canonical = realpath(dir, NULL);
    if (!canonical) {
        *error = g_strdup_printf("%s: %s", dir, g_strerror(errno));
        return NULL;
    }
    g_mutex_lock(&table_lock);
    GstClipSharedModel *found = NULL;
    SharedDevice *d = acquire_device(device, threads, error);
    for (GList *l = models; d && l && !found; l = l->next) {
        GstClipSharedModel *m = l->data;
        if (m->device == d && m->precision == precision && strcmp(m->dir, canonical) == 0)
            found = m;
    }
    if (found) {
        found->users++;
        release_device(d); /* the model already holds it */
    } else if (d) {
        vkclip_error err = {{0}};
        vkclip_model_options opts = {.activations = precision};
        vkclip_model *model = vkclip_model_load(d->dev, canonical, &opts, &err);
        if (model) {
            found = g_new0(GstClipSharedModel, 1);
            found->dir = g_strdup(canonical);
            found->device = d;
            found->precision = precision;
            found->model = model;
            found->users = 1;
            models = g_list_prepend(models, found);
        } else {
            *error = g_strdup(err.message);
            release_device(d);
        }
    }
    g_mutex_unlock(&table_lock);
    free(canonical);
    return found;
}

void gst_clip_models_release(GstClipSharedModel *m)
{
    if (!m)
        return;
    g_mutex_lock(&table_lock);
    if (--m->users == 0) {
        models = g_list_remove(models, m);
        vkclip_model_free(m->model);
        release_device(m->device);
        g_free(m->dir);
        g_free(m);
    }
    g_mutex_unlock(&table_lock);
}

vkclip_model *gst_clip_shared_model_get(GstClipSharedModel *m)
{
    return m->model;
}

guint gst_clip_shared_model_users(GstClipSharedModel *m)
{
    g_mutex_lock(&table_lock);
    guint n = m->users;
    g_mutex_unlock(&table_lock);
    return n;
}
