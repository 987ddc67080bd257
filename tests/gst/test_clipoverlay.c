/* placeholder until the overlay's tests are written */
#include <gst/check/gstcheck.h>

GST_START_TEST(test_registered)
{
    GstElement *e = gst_element_factory_make("clipoverlay", NULL);
    fail_unless(e != NULL);
    gst_object_unref(e);
}
GST_END_TEST

static Suite *clipoverlay_suite(void)
{
    Suite *s = suite_create("clipoverlay");
    TCase *t = tcase_create("general");
    suite_add_tcase(s, t);
    tcase_add_test(t, test_registered);
    return s;
}

GST_CHECK_MAIN(clipoverlay)
