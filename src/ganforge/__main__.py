import os
import sys

from .cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "TORCHELASTIC_RUN_ID" in os.environ:
    # A torchrun worker whose job is done (its process group already left, files closed) ends
    # here without the interpreter's teardown: there, gloo's C++ threads were at times destroyed
    # still joinable and the rank aborted ("terminate called without an active exception", exit
    # -6) after a successful run, failing the whole job (pytorch/pytorch#179291 describes it).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
