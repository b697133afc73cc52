# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config.pbtxt for the runtime: the collection's own parser, loaded by path.

The parser lives in plugins/module_utils/triton_config.py, where the model
stage renders and reads config.pbtxt with it. That file depends on the standard
library only, so the runtime loads it from its place in the collection instead
of keeping a copy: one parser, the same from a git checkout and from an
installed collection, without putting the collection on the runtime's path.
"""

from __future__ import annotations

import importlib.util
import os

PARSER_PATH = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                 "plugins", "module_utils", "triton_config.py")
)


def load_parser(path=PARSER_PATH):
    """The collection's triton_config module, imported from its file."""
    spec = importlib.util.spec_from_file_location("triton_local_config_parser", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the config.pbtxt parser from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PARSER = load_parser()
REPEATED = _PARSER.REPEATED
TritonConfigError = _PARSER.TritonConfigError
parse = _PARSER.parse
