"""``python -m weixin_kit``: the ``weixin-kit`` command line (``weixin-kit --help``), the same
Rust code as the ``weixin-kit`` binary (``cargo install --path cli``)."""

import sys

from ._native import cli_main

if __name__ == "__main__":
    sys.exit(cli_main(sys.argv[1:]))
