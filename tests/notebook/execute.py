"""Execute a notebook on the cnnscript kernel with nbclient, as Jupyter
would, and write it with its outputs.

    python tests/notebook/execute.py IN.ipynb OUT.ipynb --cwd DIR [--allow-errors]

The kernel must be installed where Jupyter looks (JUPYTER_PATH); cells run
with DIR as the kernel's folder, so files that `plot`, `show` and `save`
write go there. tests/notebook.rs runs this; it also refreshes the stored
outputs of examples/chapter.ipynb (see docs/notebook.md).
"""

import argparse

import nbformat
from nbclient import NotebookClient


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("out")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--allow-errors", action="store_true")
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="cnnscript",
        timeout=args.timeout,
        allow_errors=args.allow_errors,
        record_timing=False,
        resources={"metadata": {"path": args.cwd}},
    )
    client.execute()
    nbformat.write(nb, args.out)


if __name__ == "__main__":
    main()
