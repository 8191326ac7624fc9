"""What a user sees for wrongly typed or shaped arguments, without the test suite's type checker.

In-process tests run under jaxtyping + beartype, which catch these cases first; learners run
no type checker, so here the same calls run in a plain interpreter and must raise the
library's own ``ValueError`` naming the argument.
"""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, torch
    from superpos_lib import metrics, superposition, runtime, data, train_toy_models
    from superpos_lib.models import ToyModelConfig
    cases = {
        "device": lambda: runtime.get_device(3.5),
        "d_hidden": lambda: ToyModelConfig(5, 2.5),
        "n_features": lambda: train_toy_models(5.0, 2, 0.1),
        "feature_probability": lambda: data.FeatureSampler(torch.full((3,), 0.5), 10),
        "W": lambda: metrics.feature_angles(torch.ones(1, 3, 4)),
        "importance": lambda: train_toy_models(5, 2, 0.1, importance=torch.ones(2, 3, 5)),
        "titles": lambda: superposition.plot_features_in_2d(torch.ones(2, 2, 3), titles=["one"]),
    }
    out = {}
    for name, call in cases.items():
        try:
            call()
            out[name] = "no error"
        except ValueError as err:
            out[name] = "ValueError: " + str(err)
        except Exception as err:
            out[name] = f"{type(err).__name__}: {err}"
    print(json.dumps(out))
    """
)


def test_bad_inputs_raise_value_error_naming_the_argument():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.strip().splitlines()[-1])
    for name, message in results.items():
        assert message.startswith("ValueError") and name in message, f"{name}: {message}"
