"""Every size a client can ask for is bounded here, and the CLI's flags set them."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """What one server takes. Defaults suit small generators on a laptop CPU."""

    max_n: int = 256  # samples per request
    max_batch: int = 256  # samples per forward pass (requests are batched up to this)
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_queue: int = 256  # requests waiting for a forward pass; more get 503
    max_concurrency: int = 512  # requests in the server at once; more get 503
    max_body_bytes: int = 1 << 20  # a JSON request body
    max_upload_bytes: int = 16 << 20  # a multipart request (image + mask)
    max_image_side: int = 1024  # pixels, each side of an uploaded image
    max_output_pixels: int = 1 << 24  # pixels of one translation (super-resolution: scale^2 x the input's)
    max_json_values: int = 1 << 18  # values in one format=json answer (~2 MB of text)

    def __post_init__(self) -> None:
        for name in ("max_n", "max_batch", "max_queue", "max_concurrency", "max_body_bytes",
                     "max_upload_bytes", "max_image_side", "max_output_pixels", "max_json_values"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.max_n > 1 << 16:
            raise ConfigError(f"max_n must be at most {1 << 16:,}, got {self.max_n:,}")
        if self.max_batch < self.max_n:
            raise ConfigError(f"max_batch ({self.max_batch}) must be >= max_n ({self.max_n}): "
                              "one request's samples go through one forward pass")
        if not 0 <= self.max_wait_ms <= 1000:
            raise ConfigError(f"max_wait_ms must be in 0..1000, got {self.max_wait_ms}")
