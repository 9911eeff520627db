"""StyleGAN2-class generator and discriminator (Karras et al. 2020, "Analyzing and Improving the Image
Quality of StyleGAN"), in plain PyTorch ops: no custom kernels to compile.

G: z (pixel-normalised, with a class embedding when conditional) -> mapping MLP (equalised lr, lr
multiplier g.lr_mult) -> w, broadcast to `num_ws` per-layer styles -> synthesis: a learned constant,
then per resolution two modulated 3x3 convs (weight demodulation), per-pixel noise with a learned
strength (init 0), bias + leaky ReLU * sqrt(2), x2 up-sampling; RGB by the sum of up-sampled toRGB
outputs (g.rgb=skip) or one toRGB after residual blocks (g.rgb=resnet). D: fromRGB, residual blocks
(1x1 skip with down-sampling, sums scaled by 1/sqrt(2)), minibatch std (d.mbstd), conv + dense head,
projection conditioning. Every weight uses the equalised learning rate: stored ~ N(0, 1) / lr_mult
and scaled at run time by lr_mult / sqrt(fan_in), so Adam's steps are the same size in every layer.

Sides: H = h0 * 2^k and W = w0 * 2^k, where (h0, w0) is what halving both sides leaves once the
shorter one would drop below 4 (16 -> 4x4, 28 -> 7x7, 32x16 -> 8x4). Channels are `width` at the
image's side and double per halving, up to `max_channels`.

Randomness: in training G draws its per-pixel noise and its style-mixing choices from the generator
given to `bind_rng` (the trainer binds its "g" role generator, checkpointed), so runs resume exactly.
In eval mode G is deterministic (noise="const", no mixing) and clamps its output to [-1, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DConfig, GConfig
from ..errors import ConfigError
from .cond import CondHead
from .contract import Discriminator, DOut, Generator, NetSpec
from .layers import MinibatchStd
from .mlp import NETS

SQRT2 = math.sqrt(2.0)
NOISE_MODES = ("const", "random", "none")
MIN_SIDE = 4
MAX_SIDE = 1024


def layout(shape: tuple[int, ...], which: str) -> tuple[int, tuple[int, int], int]:
    """(channels, (h0, w0), k): the start size and the number of doublings for images of `shape`."""
    if len(shape) != 3:
        raise ConfigError(f"{which}.arch=style needs image data (C, H, W), got samples of shape {shape}")
    c, h, w = shape
    if c not in (1, 3):
        raise ConfigError(f"{which}.arch=style makes 1- or 3-channel images, got {c} channels")
    if min(h, w) < MIN_SIDE * 2 or max(h, w) > MAX_SIDE:
        raise ConfigError(f"{which}.arch=style needs sides from {MIN_SIDE * 2} to {MAX_SIDE}, got {h}x{w}")
    k = 0
    while h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= MIN_SIDE:
        h, w, k = h // 2, w // 2, k + 1
    if max(h, w) > 8 * min(h, w):
        raise ConfigError(f"{which}.arch=style: sides {shape[1]}x{shape[2]} are too far from square")
    return c, (h, w), k


def channels(width: int, max_channels: int, halvings: int) -> int:
    """Channels at a resolution `halvings` steps below the image's side."""
    return min(width * 2 ** halvings, max_channels)


# --- equalised learning rate ---------------------------------------------------------------------


class EqLinear(nn.Module):
    """Linear layer with the equalised learning rate (Karras et al. 2018, ProGAN sec. 4.1): weights
    stored ~ N(0, 1) / lr_mult, used as weight * lr_mult / sqrt(in); bias stored as init / lr_mult and
    used * lr_mult. `act`: leaky ReLU(0.2) * sqrt(2) (keeps the signal's second moment)."""

    def __init__(self, fan_in: int, fan_out: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mult: float = 1.0, act: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in) / lr_mult)
        self.bias = nn.Parameter(torch.full((fan_out,), float(bias_init) / lr_mult)) if bias else None
        self.weight_gain = lr_mult / math.sqrt(fan_in)
        self.bias_gain = lr_mult
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


class EqConv2d(nn.Module):
    """Convolution with the equalised learning rate (weight * 1 / sqrt(in * k * k)); `down` averages
    2x2 blocks first (D's down-sampling); `act` as in EqLinear."""

    def __init__(self, cin: int, cout: int, kernel: int, bias: bool = True, act: bool = False,
                 down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.weight_gain = 1 / math.sqrt(cin * kernel * kernel)
        self.act, self.down, self.pad = act, down, kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.pad)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: each row scaled to unit mean square (StyleGAN's z and class embedding)."""
    return x * (x.square().mean(1, keepdim=True) + eps).rsqrt()


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """Per-sample weights (n, out, in, k, k): weight scaled by each sample's styles on its input
    channels, then (demodulate) each output channel scaled to unit L2 norm (StyleGAN2 eq. 1-3).
    The convolution itself uses the equivalent un-fused form (`ModulatedConv`); this is its reference."""
    w = weight.unsqueeze(0) * styles.reshape(styles.shape[0], 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum((2, 3, 4), keepdim=True) + eps).rsqrt()
    return w


class ModulatedConv(nn.Module):
    """A 3x3 (or 1x1) convolution modulated by an affine map of w (bias init 1, so styles start at 1).

    Run un-fused: x * styles, one ordinary convolution with the shared weight, then x * the
    demodulation coefficients; the same numbers as grouped convolution with `modulated_weight`'s
    per-sample weights, and much faster on CPUs (no per-sample groups)."""

    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.affine = EqLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.weight_gain = 1 / math.sqrt(cin * kernel * kernel)
        self.demodulate, self.up, self.pad = demodulate, up, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w).float()  # (n, cin)
        weight = self.weight * self.weight_gain
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = x * styles.to(x.dtype)[:, :, None, None]
        x = F.conv2d(x, weight.to(x.dtype), padding=self.pad)
        if self.demodulate:
            # sum over in, kh, kw of (weight * style)^2, per sample and output channel
            d = (torch.einsum("oikl,ni->no", weight.square(), styles.square()) + 1e-8).rsqrt()
            x = x * d.to(x.dtype)[:, :, None, None]
        return x


class StyleLayer(nn.Module):
    """Modulated conv, per-pixel noise (learned per-channel strength, init 0), bias, leaky ReLU * sqrt 2.
    `noise_const` is a fixed noise image (drawn at init) for noise="const"."""

    def __init__(self, cin: int, cout: int, w_dim: int, size: tuple[int, int], up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv(cin, cout, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(cout))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.size = size
        self.register_buffer("noise_const", torch.randn(1, 1, *size))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: str,
                gen: torch.Generator | None) -> torch.Tensor:
        x = self.conv(x, w)
        if noise == "random":
            device = gen.device if gen is not None else x.device
            n = torch.randn((x.shape[0], 1, *self.size), generator=gen, device=device).to(x.device)
            x = x + n.to(x.dtype) * self.noise_strength.view(1, -1, 1, 1).to(x.dtype)
        elif noise == "const":
            x = x + (self.noise_const * self.noise_strength.view(1, -1, 1, 1)).to(x.dtype)
        x = x + self.bias.view(1, -1, 1, 1).to(x.dtype)
        return F.leaky_relu(x, 0.2) * SQRT2


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus a bias, no activation."""

    def __init__(self, cin: int, cout: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(cin, cout, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1).to(x.dtype)


class SynthesisBlock(nn.Module):
    """One resolution: (up-sampling conv,) conv, toRGB. With `resnet`, the two convs are a residual
    branch beside an up-sampled 1x1 skip, the sum scaled by 1/sqrt(2)."""

    def __init__(self, cin: int, cout: int, w_dim: int, size: tuple[int, int], img_channels: int,
                 first: bool, resnet: bool, to_rgb: bool) -> None:
        super().__init__()
        self.first = first
        self.conv0 = None if first else StyleLayer(cin, cout, w_dim, size, up=True)
        self.conv1 = StyleLayer(cout if not first else cin, cout, w_dim, size)
        self.skip = EqConv2d(cin, cout, 1, bias=False) if (resnet and not first) else None
        self.torgb = ToRGB(cout, img_channels, w_dim) if to_rgb else None
        self.num_conv = 1 if first else 2

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, ws: torch.Tensor, noise: str,
                gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ws: (n, num_conv + 1, w_dim): this block's convs' styles, then toRGB's."""
        if self.conv0 is None:
            x = self.conv1(x, ws[:, 0], noise, gen)
        else:
            y = self.conv1(self.conv0(x, ws[:, 0], noise, gen), ws[:, 1], noise, gen)
            if self.skip is not None:
                s = self.skip(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
                y = (y + s) / SQRT2
            x = y
        if img is not None:
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
        if self.torgb is not None:
            rgb = self.torgb(x, ws[:, self.num_conv]).float()
            img = rgb if img is None else img + rgb
        return x, img


class StyleGenerator(Generator):
    """`g.arch=style`: mapping network + modulated synthesis network (see the module docstring).

    Interface the latent-space tools build on: `num_ws`, `w_dim`, `w_avg` (buffer: the running mean
    of w, tracked in training forward passes only), `mapping(z, c, psi, cutoff)`,
    `synthesis(ws, noise, gen)`, `bind_rng(gen)`."""

    supports_classes = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        img_c, (h0, w0), k = layout(shape, "g")
        self.spec = NetSpec(tuple(shape), z_dim=cfg.noise_dim, cond="class" if num_classes else "none",
                            num_classes=num_classes)
        self.w_dim = cfg.w_dim or cfg.noise_dim
        self.z_noise = cfg.noise
        self.style_mixing = cfg.style_mixing
        self.w_avg_beta = 0.995
        self._gen: torch.Generator | None = None
        # mapping: [pixel-norm(z), pixel-norm(embed(c))] -> mapping_layers FC (lr_mult) -> w
        self.embed = EqLinear(num_classes, self.w_dim) if num_classes else None
        dims = [cfg.noise_dim + (self.w_dim if num_classes else 0)] + [self.w_dim] * cfg.mapping_layers
        self.mapping_net = nn.Sequential(*[EqLinear(a, b, lr_mult=cfg.lr_mult, act=True)
                                           for a, b in zip(dims[:-1], dims[1:], strict=True)])
        self.register_buffer("w_avg", torch.zeros(self.w_dim))
        # synthesis
        resnet = cfg.rgb == "resnet"
        ch0 = channels(cfg.width, cfg.max_channels, k)
        self.const = nn.Parameter(torch.randn(ch0, h0, w0))
        blocks: list[SynthesisBlock] = []
        cin = ch0
        for i in range(k + 1):
            cout = channels(cfg.width, cfg.max_channels, k - i)
            size = (h0 * 2 ** i, w0 * 2 ** i)
            blocks.append(SynthesisBlock(cin, cout, self.w_dim, size, img_c, first=i == 0, resnet=resnet,
                                         to_rgb=(not resnet) or i == k))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = sum(b.num_conv for b in blocks) + 1

    # --- randomness -----------------------------------------------------------------------------
    def bind_rng(self, gen: torch.Generator | None) -> None:
        """Draw training noise and style-mixing choices from `gen` (the trainer's "g" role)."""
        self._gen = gen

    def _draw_z(self, n: int, device: torch.device) -> torch.Tensor:
        gen = self._gen
        where = gen.device if gen is not None else device
        if self.z_noise == "uniform":
            z = torch.rand((n, self.spec.z_dim), generator=gen, device=where) * 2 - 1
        else:
            z = torch.randn((n, self.spec.z_dim), generator=gen, device=where)
        return z.to(device)

    # --- the two networks -----------------------------------------------------------------------
    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                cutoff: int | None = None, update_w_avg: bool = False) -> torch.Tensor:
        """z (n, z_dim) [+ classes] -> ws (n, num_ws, w_dim). psi < 1 pulls the first `cutoff`
        layers' w toward `w_avg` (all layers when cutoff is None): the truncation trick.
        `update_w_avg` moves the running mean (training forward passes only)."""
        self.check_condition(c)
        x = normalize_2nd_moment(z.float())
        if self.embed is not None:
            y = F.one_hot(c.long(), self.spec.num_classes).to(x.dtype)  # type: ignore[union-attr]
            x = torch.cat([x, normalize_2nd_moment(self.embed(y).float())], 1)
        w = self.mapping_net(x).float()
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1:
            cut = self.num_ws if cutoff is None else cutoff
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], psi)
        return ws

    def synthesis(self, ws: torch.Tensor, noise: str = "const",
                  gen: torch.Generator | None = None) -> torch.Tensor:
        """ws (n, num_ws, w_dim) -> images (n, C, H, W), not clamped. `noise`: const (the fixed noise
        images: deterministic), random (drawn from `gen`) or none."""
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        img = None
        i = 0
        for b in self.blocks:
            x, img = b(x, img, ws[:, i:i + b.num_conv + 1], noise, gen)
            i += b.num_conv
        return img  # type: ignore[return-value]

    def mix(self, ws: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Style mixing (StyleGAN sec. 3.1): each sample, with probability g.style_mixing, takes its
        layers from a random cutoff in [1, num_ws) on from a second z's w. Draws from the bound rng."""
        if self.style_mixing <= 0:
            return ws
        n, gen = ws.shape[0], self._gen
        where = gen.device if gen is not None else ws.device
        on = torch.rand((n,), generator=gen, device=where).to(ws.device) < self.style_mixing
        cut = torch.randint(1, self.num_ws, (n,), generator=gen, device=where).to(ws.device)
        z2 = self._draw_z(n, ws.device)
        ws2 = self.mapping(z2, c)
        layer = torch.arange(self.num_ws, device=ws.device)
        take = (on[:, None] & (layer[None, :] >= cut[:, None])).unsqueeze(2)
        return torch.where(take, ws2, ws)

    def training_ws(self, z: torch.Tensor, c: torch.Tensor | None = None,
                    update_w_avg: bool = True) -> torch.Tensor:
        """The ws of a training forward pass: mapping (moving w_avg), then style mixing."""
        return self.mix(self.mapping(z, c, update_w_avg=update_w_avg), c)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        # Clamped in training too: D then never sees values beyond the data's range. Unclamped, a
        # fresh G's output spans about [-3, 4] while MNIST's background is exactly -1; D told fakes
        # apart by that alone (accuracy -> 1) and G lost its variety within a few hundred steps.
        if self.training:
            ws = self.training_ws(z, c)
            return self.synthesis(ws, noise="random", gen=self._gen).clamp(-1, 1)
        return self.synthesis(self.mapping(z, c), noise="const").clamp(-1, 1)


# --- discriminator --------------------------------------------------------------------------------


class DBlock(nn.Module):
    """Two 3x3 convs (the second down-sampling) beside a down-sampled 1x1 skip; sum / sqrt(2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv0 = EqConv2d(cin, cin, 3, act=True)
        self.conv1 = EqConv2d(cin, cout, 3, act=True, down=True)
        self.skip = EqConv2d(cin, cout, 1, bias=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) / SQRT2


class StyleDiscriminator(Discriminator):
    """`d.arch=style`: StyleGAN2's residual D. fromRGB (1x1), one residual block per halving, then at
    the start size: minibatch std (d.mbstd, group 4), 3x3 conv, dense, and a dense score; with
    classes, d.cond=projection adds <embed(y), h> / sqrt(dim) (StyleGAN2-ADA's scaling) and
    d.cond=acgan returns class logits."""

    supports_classes = True

    def __init__(self, cfg: DConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        img_c, (h0, w0), k = layout(shape, "d")
        if cfg.pack > 1 and num_classes:
            raise ConfigError("conditional discriminators do not take d.pack > 1")
        self.spec = NetSpec(tuple(shape), cond="class" if num_classes else "none",
                            num_classes=num_classes, pack=cfg.pack)
        ch = [channels(cfg.width, cfg.max_channels, i) for i in range(k + 1)]
        self.fromrgb = EqConv2d(img_c * cfg.pack, ch[0], 1, act=True)
        self.blocks = nn.Sequential(*[DBlock(ch[i], ch[i + 1]) for i in range(k)])
        self.mbstd = MinibatchStd(4) if cfg.mbstd else None
        top = ch[k]
        self.conv = EqConv2d(top + (1 if cfg.mbstd else 0), top, 3, act=True)
        self.fc = EqLinear(top * h0 * w0, top, act=True)
        self.out = EqLinear(top, 1)
        self.cond = cfg.cond if num_classes else "none"
        if self.cond == "projection":
            self.embed = EqLinear(num_classes, top)
        elif self.cond == "acgan":
            self.cond_head = CondHead("acgan", num_classes, top, False)
        elif self.cond != "none":
            raise ConfigError(f"unknown d.cond {cfg.cond!r} (known: projection, acgan)")

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        self.check_condition(c)
        n = x.shape[0] // self.spec.pack
        h = self.blocks(self.fromrgb(x.reshape(n, -1, *x.shape[2:])))
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = self.fc(self.conv(h).flatten(1))
        score = self.out(h).squeeze(1)
        if self.cond == "projection":
            y = F.one_hot(c.long(), self.spec.num_classes).to(h.dtype)  # type: ignore[union-attr]
            e = self.embed(y)
            return DOut(score + (e * h).sum(1) / math.sqrt(h.shape[1]))
        if self.cond == "acgan":
            return self.cond_head(score, h, c)
        return DOut(score)


NETS.register("style")((StyleGenerator, StyleDiscriminator))
