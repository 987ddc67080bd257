#!/usr/bin/python3
"""Class names and prompt templates of one dataset from OpenAI's prompts.md,
as files for `vkclip classify --labels-file F --templates-file F`.

  extract_prompts.py PROMPTS.md --list
  extract_prompts.py PROMPTS.md DATASET --classes-out CLASSES.txt --templates-out TEMPLATES.txt

PROMPTS.md is OpenAI's CLIP/data/prompts.md (../shared/data/openai-clip/prompts.md):
one "## Name" section per dataset with a code block holding the Python lists
`classes = [...]` and `templates = [...]`. DATASET matches a section name
case-insensitively, ignoring spaces, dashes and underscores ("kinetics-700" is
"Kinetics700"). Both outputs hold one entry a line, templates in their "{}"
form. FacialEmotionRecognition2013 gives some classes several names
(['happy', 'smiling']): the first name is written, the others are dropped
(vkclip has one name per label). Only the standard library is used.
"""

import argparse
import ast
import re
import sys

HEADING = re.compile(r"^## (.+?)\s*$", re.M)
CODE_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def dataset_key(name):
    return re.sub(r"[\s_-]+", "", name).lower()


def parse_sections(text, source):
    """{heading: {"classes": [...], "templates": [...]}} in file order."""
    headings = list(HEADING.finditer(text))
    out = {}
    for i, h in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        block = CODE_BLOCK.search(text, h.end(), end)
        if not block:
            continue
        name = h.group(1)
        try:
            tree = ast.parse(block.group(1))
        except SyntaxError as exc:
            raise ValueError(f"{source}: section '{name}': code block is not Python ({exc.msg}, "
                             f"line {exc.lineno})") from None
        lists = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                lists[node.targets[0].id] = ast.literal_eval(node.value)
        if "classes" in lists and "templates" in lists:
            out[name] = {"classes": lists["classes"], "templates": lists["templates"]}
    return out


def class_names(classes, source, dataset):
    """One string per class; a list of synonyms gives its first one."""
    names = []
    for i, c in enumerate(classes):
        if isinstance(c, list) and c and all(isinstance(s, str) for s in c):
            c = c[0]
        if not isinstance(c, str):
            raise ValueError(f"{source}: {dataset}: class {i + 1} is neither a string nor a list of strings")
        names.append(c)
    return names


def check_lines(values, what, source, dataset):
    for i, v in enumerate(values):
        if not isinstance(v, str) or "\n" in v or v.strip() != v or not v:
            raise ValueError(f"{source}: {dataset}: {what} {i + 1} ({v!r}) cannot be one trimmed line")


def write_lines(path, values):
    with open(path, "w", encoding="utf-8") as f:
        for v in values:
            f.write(v + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts_md")
    ap.add_argument("dataset", nargs="?")
    ap.add_argument("--list", action="store_true", help="print the dataset names, one a line")
    ap.add_argument("--classes-out", help="file to write the class names to")
    ap.add_argument("--templates-out", help="file to write the templates to")
    args = ap.parse_args(argv)
    try:
        with open(args.prompts_md, encoding="utf-8") as f:
            sections = parse_sections(f.read(), args.prompts_md)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"extract_prompts.py: {exc}", file=sys.stderr)
        return 1
    if args.list:
        for name in sections:
            print(name)
        return 0
    if not args.dataset or not args.classes_out or not args.templates_out:
        ap.error("give --list, or DATASET with --classes-out and --templates-out")
    found = [n for n in sections if dataset_key(n) == dataset_key(args.dataset)]
    if not found:
        print(f"extract_prompts.py: {args.prompts_md}: no dataset '{args.dataset}' "
              f"(--list shows the {len(sections)} there are)", file=sys.stderr)
        return 1
    name = found[0]
    try:
        classes = class_names(sections[name]["classes"], args.prompts_md, name)
        templates = sections[name]["templates"]
        check_lines(classes, "class", args.prompts_md, name)
        check_lines(templates, "template", args.prompts_md, name)
        write_lines(args.classes_out, classes)
        write_lines(args.templates_out, templates)
    except (OSError, ValueError) as exc:
        print(f"extract_prompts.py: {exc}", file=sys.stderr)
        return 1
    print(f"{name}: {len(classes)} classes, {len(templates)} templates", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
