import os
import sys

from .cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ:
    # A rank of a multi-process job (torchrun's variables, with or without its agent) ends here
    # without the interpreter's teardown, after a finished job and after a failed one alike: there,
    # gloo's C++ threads were at times destroyed still joinable and the rank aborted ("terminate
    # called without an active exception", exit -6) after its last line was printed, turning a
    # clean run into a failed job and burying a failed rank's one-line error (pytorch/pytorch#179291
    # describes it). Every file the job wrote is closed by now; only stdio is still buffered.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
