"""python -m triton_local --model-repository DIR [--host 127.0.0.1 --http-port 8000 --metrics-port 8002]"""

import sys

from .cli import main

sys.exit(main())
