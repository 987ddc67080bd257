/* gstclipmodels.c: placeholder. */
