import os
import sys

from .cli import main
from .errors import ConfigError
from .training.distributed import from_env

code = main()
try:
    in_job = from_env().size > 1
except ConfigError:  # malformed torchrun variables: main() has already said so in one line
    in_job = False
if in_job:
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
