"""The `inpaint` task: fill the holes of an image (mask 1 = hole) so that the filled image looks real.

G(z, c) takes c = cat(x * (1 - m), m): the image with its holes zeroed and the mask (C + 1 channels),
and returns the composite m * G + (1 - m) * x (g.arch=gated composites inside the net, so D, this
task's loss, EMA copies and generation all see the finished image while the trainer stays generic).
D (a PatchGAN) judges x or the composite given the same c, as pix2pix judges pairs, so it looks for
seams and texture in the hole against its context. G also pays `task.l1_weight` * mean |G - x| over
the hole pixels; the valid pixels are copied, so an L1 on them would be zero for a compositing G.

Masks come from the data generator right after the images: random free-form strokes and boxes
(data/masks.py, `task.mask`), or the set's own masks (`task.mask: data`, photos-folder with masks/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..config import DataConfig, RunConfig
from ..data.images import ImageData, to_float
from ..data.masks import MASK_KINDS, check_bounds, random_masks
from ..data.photos import PHOTO_SETS, PhotoData
from ..errors import ConfigError
from .base import TASKS, Batch, Noise, TaskDefaults


def condition(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """G's (and D's) input: the image with its holes zeroed, and the mask, on the channels."""
    return torch.cat([images * (1 - masks), masks], 1)


def hole_l1(out: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean |out - target| over the hole pixels (every channel), 0 for a batch without holes."""
    holes = masks.expand_as(out).float()
    return ((out.float() - target.float()).abs() * holes).sum() / holes.sum().clamp_min(1)


@TASKS.register("inpaint")
class InpaintTask(TaskDefaults):
    name = "inpaint"
    from_noise = False
    num_classes = 0
    stat_names: tuple[str, ...] = ("l1_hole",)

    def __init__(self, data: Any, l1_weight: float, device: torch.device, mask: str = "mixed",
                 hole_min: float = 0.1, hole_max: float = 0.5) -> None:
        if not isinstance(data, ImageData):
            raise ConfigError(f"task.kind=inpaint needs images; data.name={data.name} holds {data.kind} data "
                              f"(photo sets: {', '.join(PHOTO_SETS.names())})")
        if mask not in MASK_KINDS:
            raise ConfigError(f"task.mask must be one of {', '.join(MASK_KINDS)}, got {mask!r}")
        if mask == "data" and not (isinstance(data, PhotoData) and data.masks is not None):
            raise ConfigError(f"task.mask=data needs a set with masks; {data.name} has none (photos-folder "
                              "with a masks/ folder beside the images)")
        check_bounds(hole_min, hole_max)
        self.data = data
        self.device = device
        self.l1_weight = l1_weight
        self.mask = mask
        self.hole_min, self.hole_max = hole_min, hole_max
        self.shape: tuple[int, ...] = tuple(data.shape)
        self.cond_shape: tuple[int, ...] = (self.shape[0] + 1, *self.shape[1:])

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> InpaintTask:
        t = cfg.task
        return cls(data, t.l1_weight, device, t.mask, t.hole_min, t.hole_max)

    @staticmethod
    def load_data(cfg: DataConfig) -> PhotoData:
        """A photo set (PHOTO_SETS) at data.size / data.channels, its held-out part as `.test`."""
        if cfg.name not in PHOTO_SETS:
            raise ConfigError(f"task.kind=inpaint needs a photo data set, not {cfg.name!r} "
                              f"(known: {', '.join(PHOTO_SETS.names())})")
        data: PhotoData = PHOTO_SETS.get(cfg.name)(path=cfg.path, size=cfg.size, channels=cfg.channels,
                                                   max_bad_share=cfg.max_bad_share)
        return data.fit(cfg.size, cfg.channels)

    def masks(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n random masks (n, 1, H, W) of the task's kind and hole share, from `gen`."""
        kind = "mixed" if self.mask == "data" else self.mask
        return random_masks(n, self.shape[1], self.shape[2], gen, kind, self.hole_min, self.hole_max)

    def images(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n training images and their masks on the device: one index draw, then the masks."""
        if self.mask == "data":
            x, m = self.data.sample_masked(n, gen, self.draws())
        else:
            x = self.data.sample(n, gen, self.draws())
            m = self.masks(n, gen)
        return x.to(self.device), m.to(self.device)

    def held_out_set(self) -> ImageData:
        """The set's held-out part, or the training images when it holds none out."""
        if isinstance(self.data, PhotoData) and self.data.test is not None:
            return self.data.test
        return self.data

    def held_out(self, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The first n held-out images (training ones when none are held out) with masks: the set's
        own where it has them, else random ones from `seed`. On the CPU: for grids and measurements."""
        test = self.held_out_set()
        x = to_float(test.images[:n])
        if self.mask == "data" and isinstance(test, PhotoData) and test.masks is not None:
            return x, (test.masks[:n] > 127).float()
        return x, self.masks(len(x), torch.Generator().manual_seed(seed))

    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        x, m = self.images(n, rng["data"])
        c = condition(x, m)
        return Batch(z=noise(n, rng["noise"]), c_g=c, real=x, c_d_real=c, c_d_fake=c, target=x)

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """G needs images with their masks: a fresh batch, like a D step's."""
        return self.batch(n, rng, noise)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch, g: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """l1_weight * mean |fake - x| over the hole; the statistic `l1_hole` is the unweighted mean."""
        if batch.target is None or batch.c_g is None:
            raise ValueError("an inpainting batch carries its images and condition")
        l1 = hole_l1(fake, batch.target, batch.c_g[:, self.shape[0]:])
        return self.l1_weight * l1, {"l1_hole": l1.item()}
