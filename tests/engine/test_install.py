#!/usr/bin/python3
"""libvkclip as another program sees it: `meson install --destdir` into a
temporary folder, then a small C program that includes <vkclip/vkclip.h>,
built with `pkg-config --cflags --libs vkclip` from that folder only, run
against the installed libvkclip.so: it prints the default model directory
and the Vulkan devices, loads the tiny fixture model and embeds a frame.
The library must export only the vkclip_* API.

  test_install.py MESON BUILD_DIR PREFIX LIBDIR MODEL_DIR "CC..."

MODEL_DIR is where the default model installs (under PREFIX); it is
checked when the source tree holds a complete data/shapes-clip.
"""

import os
import shlex
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <vkclip/vkclip.h>

int main(int argc, char **argv)
{
    printf("default model: %s\n", vkclip_default_model_dir());
    vkclip_error err;
    vkclip_device_info devices[8];
    int n = vkclip_list_devices(devices, 8, &err);
    if (n < 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("devices: %d\n", n);
    if (argc < 2)
        return 0;
    vkclip_device *dev = vkclip_device_open(NULL, &err);
    vkclip_model *model = dev ? vkclip_model_load(dev, argv[1], NULL, &err) : NULL;
    if (!model) {
        fprintf(stderr, "%s\n", err.message);
        vkclip_device_free(dev);
        return 1;
    }
    static unsigned char pixels[64 * 48 * 3];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (unsigned char)(i * 7);
    vkclip_frame frame = {.format = VKCLIP_FORMAT_RGB, .width = 64, .height = 48, .planes = {pixels},
                          .strides = {3 * 64}};
    float embedding[4096];
    int dim = vkclip_embedding_dim(model);
    int rc = dim <= 4096 ? vkclip_encode_images(model, &frame, 1, embedding, true, &err) : -1;
    if (rc == 0) {
        double norm = 0;
        for (int i = 0; i < dim; i++)
            norm += (double)embedding[i] * embedding[i];
        printf("embedding: %d floats, norm %.4f\n", dim, sqrt(norm));
    } else {
        fprintf(stderr, "%s\n", err.message);
    }
    vkclip_model_free(model);
    vkclip_device_free(dev);
    return rc == 0 ? 0 : 1;
}
"""


def sh(c, argv, what, env=None, timeout=300):
    """Runs argv; returns its stdout, or None after a failed check."""
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if not c.check(p.returncode == 0, f"{what}: rc {p.returncode}"
                   + ("" if p.returncode == 0 else f" {p.stdout[-800:]!r} {p.stderr[-800:]!r}")):
        return None
    return p.stdout


def installed_root(destdir, path):
    return os.path.join(destdir, path.lstrip("/"))


def check_exports(c, library):
    out = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    others = [n for n in names if not n.startswith("vkclip_")]
    c.check(len(names) > 20 and not others and "vkclip_default_model_dir" in names,
            f"{os.path.basename(library)} exports only the vkclip_* API: {len(names)} symbols, others {others[:10]}")


def check_default_model(c, root, model_dir):
    """The default model is installed once data/shapes-clip can load."""
    source = os.path.join(testlib.source_root(), "data", "shapes-clip")
    needed = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
    installed = os.path.join(root, model_dir)
    if all(os.path.isfile(os.path.join(source, f)) for f in needed):
        c.check(all(os.path.isfile(os.path.join(installed, f)) for f in needed),
                f"the default model is installed into {model_dir}: {sorted(os.listdir(installed)) if os.path.isdir(installed) else 'nothing'}")
    else:
        c.check(not os.path.exists(os.path.join(installed, "config.json")),
                f"data/shapes-clip is incomplete: no half model installed into {model_dir}")


def sanitizer_flags(library):
    """A sanitizer build's library needs its runtime: the program links it
    too, so that it comes first (ASan refuses to start otherwise)."""
    needed = subprocess.run(["ldd", library], capture_output=True, text=True).stdout
    kinds = [kind for lib, kind in (("libasan", "address"), ("libubsan", "undefined")) if lib in needed]
    return [f"-fsanitize={','.join(kinds)}"] if kinds else []


def main():
    if len(sys.argv) != 7:
        print(__doc__)
        sys.exit(2)
    meson, build, prefix, libdir, model_dir, cc = sys.argv[1:7]
    for tool in ("pkg-config", "nm"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            testlib.skip(f"{tool} is not installed")
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-install-") as destdir:
        if sh(c, [meson, "install", "-C", build, "--destdir", destdir, "--no-rebuild", "--quiet"],
              "meson install --destdir") is None:
            c.finish()
        root = installed_root(destdir, prefix)
        lib_dir = os.path.join(root, libdir)
        header = os.path.join(root, "include", "vkclip", "vkclip.h")
        pc_dir = os.path.join(lib_dir, "pkgconfig")
        library = os.path.join(lib_dir, "libvkclip.so")
        for path in (header, os.path.join(pc_dir, "vkclip.pc"), library, os.path.join(root, "bin", "vkclip")):
            c.check(os.path.exists(path), f"installed: {os.path.relpath(path, destdir)}")
        if os.path.exists(library):
            check_exports(c, os.path.realpath(library))
        check_default_model(c, root, model_dir)
        # Only the destdir: the .pc file's paths are rebased onto it.
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dir, PKG_CONFIG_LIBDIR=pc_dir, PKG_CONFIG_SYSROOT_DIR=destdir)
        flags = sh(c, ["pkg-config", "--cflags", "--libs", "vkclip"], "pkg-config --cflags --libs vkclip", env=env)
        if flags is None:
            c.finish()
        c.check(destdir in flags and "-lvkclip" in flags, f"pkg-config points into the destdir: {flags.strip()}")
        source = os.path.join(destdir, "use_vkclip.c")
        program = os.path.join(destdir, "use_vkclip")
        with open(source, "w") as f:
            f.write(PROGRAM)
        argv = shlex.split(cc) + ["-std=c11", "-Wall", "-Wextra", "-Werror"] + sanitizer_flags(library) + \
            [source, "-o", program] + shlex.split(flags) + ["-lm"]
        if sh(c, argv, f"compile against the installed library ({' '.join(argv[-4:])})") is None:
            c.finish()
        run_env = dict(os.environ, LD_LIBRARY_PATH=lib_dir)
        ldd = sh(c, ["ldd", program], "ldd", env=run_env) or ""
        c.check(os.path.realpath(lib_dir) in ldd or lib_dir in ldd,
                f"the program loads libvkclip.so from the destdir: {[ln.strip() for ln in ldd.splitlines() if 'vkclip' in ln]}")
        testlib.prepare_vkclip(os.path.join(root, "bin", "vkclip"))  # lavapipe unless a driver was chosen
        run_env = dict(os.environ, LD_LIBRARY_PATH=lib_dir, VKCLIP_MODEL="/some/model/dir")
        out = sh(c, [program], "run it", env=run_env) or ""
        c.check("default model: /some/model/dir\n" in out, f"vkclip_default_model_dir() is $VKCLIP_MODEL: {out!r}")
        c.check(any(ln.startswith("devices: ") and int(ln.split()[1]) >= 1 for ln in out.splitlines()),
                f"vkclip_list_devices() finds a device: {out!r}")
        fixtures = os.environ.get("VKCLIP_FIXTURES", "")
        model = os.path.join(fixtures, "clip-tiny-f32")
        if os.path.isfile(os.path.join(model, "config.json")):
            out = sh(c, [program, model], "run it on the tiny fixture model", env=run_env) or ""
            c.check("embedding: 32 floats, norm 1.0000" in out, f"the installed library embeds a frame: {out!r}")
        else:
            print(f"note: no fixture model in '{fixtures}': the embedding run is left out")
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
