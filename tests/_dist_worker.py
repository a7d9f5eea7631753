"""Run main.py's main() in this process (one rank of a launch), then save this rank's trained
parameters to <OUT>/rank<r>.pdparams. Usage: python _dist_worker.py OUT main.py-args..."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddle  # noqa: E402

import main as main_py  # noqa: E402
import paddlevideo_tsm.tasks as tasks  # noqa: E402

out = sys.argv[1]
real_train = tasks.train_model
result = {}


def keep_result(*args, **kwargs):
    result.update(real_train(*args, **kwargs))
    return result


tasks.train_model = keep_result
rc = main_py.main(sys.argv[2:])
if rc == 0 and "model" in result:
    rank = paddle.distributed.get_rank()
    paddle.save(result["model"].state_dict(), os.path.join(out, f"rank{rank}.pdparams"))
sys.exit(rc)
