"""The OAT architecture (:class:`OATConfig`) and the constants shared by its modules."""

from __future__ import annotations

import dataclasses

from cogsim import config as cfglib

APPEARANCES = ("cnn", "embedding", "none")
NEG = -1e9
MAX_POSITIONS = 1024  # longest decodable scanpath


# ----------------------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class OATConfig:
    """Architecture of an OAT model (defaults = the published sizes)."""

    n_rows: int = cfglib.field(6, low=1, high=1000, doc="grid rows")
    n_cols: int = cfglib.field(14, low=1, high=1000, doc="grid columns")
    d_model: int = cfglib.field(512, low=4, high=8192, doc="token width (half appearance, half position)")
    n_heads: int = cfglib.field(4, low=1, high=64, doc="attention heads")
    d_ff: int = cfglib.field(512, low=1, high=65536, doc="feed-forward width")
    n_encoder_layers: int = cfglib.field(4, low=1, high=48, doc="encoder layers")
    n_decoder_layers: int = cfglib.field(4, low=1, high=48, doc="decoder layers")
    dropout: float = cfglib.field(0.1, low=0.0, high=0.9, doc="dropout rate (residual and feed-forward)")
    pointer_heads: int = cfglib.field(2, low=1, high=16, doc="pointer (cross-attention) heads")
    pointer_dk: int = cfglib.field(512, low=1, high=65536, doc="pointer score scale sqrt(pointer_dk)")
    appearance: str = cfglib.field("embedding", choices=APPEARANCES, doc="appearance encoder")
    n_appearance: int = cfglib.field(
        8, low=1, high=100_000, doc="embedding: number of appearance ids (0 = blank)"
    )
    crop_height: int = cfglib.field(150, low=4, high=4096, doc="cnn: crop height in pixels")
    crop_width: int = cfglib.field(93, low=4, high=4096, doc="cnn: crop width in pixels")
    cnn_pool: tuple[int, int] = cfglib.field(
        (5, 3), low=1, high=64, doc="cnn: max-pool sizes of the two stages"
    )
    pe_sigma: float = cfglib.field(2.0, low=0.1, high=100.0, doc="positional code: Gaussian width (cells)")
    pe_steps: int = cfglib.field(10_000, low=1, high=1_000_000, doc="positional code: Adam steps")
    pe_lr: float = cfglib.field(0.01, low=1e-6, high=10.0, doc="positional code: Adam learning rate")
    pe_seed: int = cfglib.field(0, low=0, doc="positional code: seed of the random initial table")

    def __post_validate__(self):
        if self.d_model % 2:
            raise cfglib.ConfigError(
                "d_model", self.d_model, "an even number (half appearance, half position)"
            )
        if self.d_model % self.n_heads:
            raise cfglib.ConfigError("n_heads", self.n_heads, f"a divisor of d_model={self.d_model}")
        if self.appearance == "cnn":
            h1 = (self.crop_height - 4) // self.cnn_pool[0]
            w1 = (self.crop_width - 4) // self.cnn_pool[0]
            if (h1 - 2) // self.cnn_pool[1] < 1 or (w1 - 2) // self.cnn_pool[1] < 1:
                raise cfglib.ConfigError(
                    "crop_height",
                    (self.crop_height, self.crop_width),
                    f"crops large enough for the CNN with pools {self.cnn_pool}",
                )

    @property
    def d_position(self) -> int:
        return self.d_model - self.d_model // 2

    @property
    def pe_dim(self) -> int:
        """Width of one row of the position table: ceil(d_position / 3) (86 for d_model = 512)."""
        return -(-self.d_position // 3)

    @property
    def pe_rows(self) -> int:
        return max(self.n_rows, self.n_cols, 2)
