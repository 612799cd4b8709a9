#!/usr/bin/env python3
"""A tiny PyTorch Lightning checkpoint, laid out as taming's published VQGAN
`last.ckpt` files are: the model under "state_dict" (with the training loss's
`loss.*` tensors that inference skips) beside Lightning's own entries (epoch,
global_step, version, callbacks keyed by a class, optimizer and scheduler
states). The Rust reader must find the model's tensors in it and nothing else.

To stay small it holds only the quantizer and the 1x1 convolutions of the tiny
VQGAN fixture (tests/fixtures/vqgan/tiny/model.safetensors), whose values the
test compares. Run from the repository root with the venv of make_tiny_vqgan.py:
    ~/.cache/clip-art/torch-venv/bin/python scripts/golden/make_tiny_ckpt.py
"""
import collections
import sys
import types

import torch
from safetensors.torch import load_file

FOLDER = "tests/fixtures/vqgan/tiny"
KEPT = ["quantize.embedding.weight", "quant_conv.weight", "quant_conv.bias",
        "post_quant_conv.weight", "post_quant_conv.bias"]

# Lightning keys its callbacks' states by the callback's class; pickle stores the
# class by name, so a stand-in module with that name is enough to write it.
for name in ["pytorch_lightning", "pytorch_lightning.callbacks"]:
    sys.modules[name] = types.ModuleType(name)
module = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")


class ModelCheckpoint:
    pass


ModelCheckpoint.__module__ = module.__name__
module.ModelCheckpoint = ModelCheckpoint
sys.modules[module.__name__] = module


def main():
    torch.manual_seed(0)
    weights = load_file(f"{FOLDER}/model.safetensors")
    state = collections.OrderedDict((name, weights[name]) for name in KEPT)
    state["loss.discriminator.main.0.weight"] = torch.randn(4, 3, 4, 4)
    state["loss.logvar"] = torch.zeros(())
    checkpoint = {
        "epoch": 3,
        "global_step": 1000,
        "pytorch-lightning_version": "1.0.8",
        "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.5),
                                        "best_model_path": "logs/last.ckpt"}},
        "optimizer_states": [{"state": {0: {"step": 10, "exp_avg": torch.randn(8, 8, 1, 1)}},
                              "param_groups": [{"lr": 4.5e-6, "betas": (0.5, 0.9), "params": [0]}]}],
        "lr_schedulers": [],
        "state_dict": state,
    }
    torch.save(checkpoint, f"{FOLDER}/last.ckpt")
    print(f"wrote {FOLDER}/last.ckpt: {len(state)} tensors in state_dict")


if __name__ == "__main__":
    main()
