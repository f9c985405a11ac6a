"""The training stage's activation offloading context against TRL's own, on CPU (no copies there: what is
checked is what each step's entry and exit do, and that the hooks come and go)."""

import pytest
import torch
from trl.models.activation_offloading import OffloadActivations

from stages import offloading


def test_steps_enter_without_emptying_the_cache_and_train_as_without_offloading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bitsandbytes  # noqa: F401  TRL empties the cache only once bitsandbytes is loaded

    # TRL's context asks for the accelerator when made; CPU tensors it keeps where they are
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args: torch.device("cuda"))
    emptied: list[bool] = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 8))
    x = torch.randn(32, 64)

    def gradients(context: object) -> torch.Tensor:
        model.zero_grad()
        for _ in range(2):  # two steps: the second enters with the state the first left
            with context:
                model(x).square().sum().backward()
        return torch.cat([parameter.grad.flatten() for parameter in model.parameters()])

    expected = gradients(torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t))
    theirs = OffloadActivations(use_streams=False)
    assert torch.equal(gradients(theirs), expected) and emptied  # TRL's step empties the cache
    emptied.clear()
    ours = OffloadActivations(use_streams=False)
    # once: after it, the context is no TRL one any more
    assert offloading.drop_step_syncs(ours) and not offloading.drop_step_syncs(ours)
    actual = gradients(ours)
    assert not emptied
    assert torch.equal(actual, expected)
    assert ours.tensor_id > 0 and not ours.tracker  # the saved tensors went through its hooks, none left
    assert not torch._C._autograd._top_saved_tensors_default_hooks(False)  # the hooks are gone after the step
