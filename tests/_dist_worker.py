"""One rank of a launch: main.py training, this rank's trained parameters saved to
<OUT>/rank<r>.pdparams, then (unless TEST_WEIGHTS is '-') main.py --test of <OUT>/<TEST_WEIGHTS> in
the same process.
Usage: python _dist_worker.py OUT TEST_WEIGHTS main.py-training-args...

PVTSM_TEST_KILL=RANK:N makes rank RANK kill itself (SIGKILL) just before its N-th training step,
once per OUT (the marker <OUT>/killed.RANK): a worker dying mid-epoch, for the restart test."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddle  # noqa: E402

import main as main_py  # noqa: E402
import paddlevideo_tsm.tasks as tasks  # noqa: E402
import paddlevideo_tsm.tasks.train as train_py  # noqa: E402
from paddlevideo_tsm.utils.dist import barrier  # noqa: E402

out, test_weights, train_args = sys.argv[1], sys.argv[2], sys.argv[3:]
real_train = tasks.train_model
result = {}


def keep_result(*args, **kwargs):
    result.update(real_train(*args, **kwargs))
    return result


tasks.train_model = keep_result

if os.environ.get("PVTSM_TEST_KILL"):
    kill_rank, kill_at = map(int, os.environ["PVTSM_TEST_KILL"].split(":"))
    marker = os.path.join(out, f"killed.{kill_rank}")
    real_step, calls = train_py.train_one_step, [0]

    def step_or_die(*args, **kwargs):
        calls[0] += 1
        if (calls[0] == kill_at and int(os.environ.get("PADDLE_TRAINER_ID", "0")) == kill_rank
                and not os.path.exists(marker)):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_step(*args, **kwargs)

    train_py.train_one_step = step_or_die

rc = main_py.main(train_args)
if rc == 0 and "model" in result:
    rank = paddle.distributed.get_rank()
    paddle.save(result["model"].state_dict(), os.path.join(out, f"rank{rank}.pdparams"))
    barrier()  # rank 0's checkpoint is on disk before anyone tests it
    if test_weights != "-":
        config = train_args[train_args.index("-c") + 1]
        rc = main_py.main(["-c", config, "--test", "-w", os.path.join(out, test_weights)])
sys.exit(rc)
