"""Pure Keras networks: functional ``keras.Model`` builders and the few custom layers.

Nothing here knows about training. Every builder returns a functional model with fixed input
shape, so the GAN classes in :mod:`tfgan_apps.models` can hold, serialize and distribute them
without subclassing quirks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from tfgan_apps.errors import UserError
from tfgan_apps.layers import SpectralConv2D, SpectralDense

# Radford et al. 2015, section 4: "All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02". Pix2pix and CycleGAN use the same init.
GAN_WEIGHT_STDDEV = 0.02


def gan_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(0, 0.02) kernel initializer used by DCGAN, pix2pix and CycleGAN."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=GAN_WEIGHT_STDDEV, seed=seed)


#: kernel initialisations of the U-Net: the GAN papers' N(0, 0.02) or Keras's Glorot uniform
UNET_INITIALIZERS = ("normal", "glorot")


def unet_initializer(name: str) -> keras.initializers.Initializer:
    """``"normal"``: N(0, 0.02) (:func:`gan_initializer`, the pix2pix paper's); ``"glorot"``:
    ``keras.initializers.GlorotUniform``, whose scale follows each layer's fan-in and fan-out:
    about 3x the normal's on the first layer (3 input channels) and 2x on the last (K
    output channels), 0.6-1.3x in between."""
    if name == "normal":
        return gan_initializer()
    if name == "glorot":
        return keras.initializers.GlorotUniform()
    raise UserError(f"initializer must be one of {list(UNET_INITIALIZERS)}, got {name!r}")


def dcgan_base_size(image_size: int) -> tuple[int, int]:
    """Split ``image_size`` into ``(base, num_upsamplings)`` with ``image_size = base * 2**n``.

    The generator starts from a ``base x base`` feature map (4..7 pixels) and doubles it
    ``n >= 2`` times: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5), 48 -> (6, 3).

    Raises:
        UserError: if no such split exists (e.g. 30 or 100).
    """
    base, n = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        n += 1
    if n < 2 or base > 7:
        raise UserError(
            f"image size {image_size} is not supported by the DCGAN networks: it must be "
            "4, 5, 6 or 7 times a power of two, at least 16 (e.g. 28, 32, 64, 128)"
        )
    return base, n


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise UserError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")


DCGAN_UPSAMPLING = ("upsample", "transpose")


def build_dcgan_generator(
    image_size: int = 32,
    channels: int = 3,
    latent_dim: int = 100,
    base_filters: int = 64,
    kernel_size: int | None = None,
    upsampling: str = "upsample",
    stem_blocks: int = 0,
    name: str = "dcgan_generator",
) -> keras.Model:
    """DCGAN generator (Radford et al. 2015, https://arxiv.org/abs/1511.06434).

    Noise -> dense projection to a ``base x base`` map -> blocks that double the resolution
    and halve the filters, each with batch norm and ReLU -> tanh image. No pooling, no fully
    connected hidden layers. Batch norm is ``synchronized`` so that under a distribution
    strategy the statistics are those of the global batch (one device and N replicas then
    train alike).

    Two kinds of upsampling block:

    - ``"upsample"`` (default): nearest-neighbour 2x upsampling then a 3x3 convolution
      (Odena et al. 2016, "Deconvolution and checkerboard artifacts"), then one 3x3
      convolution to the image. On the built-in shapes it gives clean backgrounds and solid
      objects after 900 steps where transposed convolutions still show checkerboards.
    - ``"transpose"``: the paper's stride-2 transposed convolutions (kernel 4 by default),
      the last one producing the image; the layout of the TF and PyTorch DCGAN examples.

    ``stem_blocks`` adds that many stride-1 blocks (a transposed convolution for
    ``"transpose"``, a convolution for ``"upsample"``; ``kernel_size``, no bias, batch norm,
    ReLU) at the base resolution right after the projection, each halving the filters; the
    projection is widened by ``2**stem_blocks`` so that the blocks after the stem are those
    of ``stem_blocks=0``, which is the model without them (same layers, names and shapes).
    ``stem_blocks=1, kernel_size=5, upsampling="transpose", base_filters=64`` at 28x28 is the
    TensorFlow DCGAN tutorial's generator (https://www.tensorflow.org/tutorials/generative/dcgan):
    Dense 100 -> 7*7*256, transposed convolutions 256 -> 128 (7x7, stride 1), 128 -> 64
    (14x14), 64 -> 1 (28x28). The tutorial uses LeakyReLU where this uses ReLU (the same
    cost), normalizes the 12544 dense outputs before the reshape (here: the 256 channels
    after it) and has no bias on its last layer.

    Args:
        image_size: output height and width (28, 32, 64, 128, ...; see :func:`dcgan_base_size`).
        channels: 1 (grayscale) or 3 (RGB).
        latent_dim: length of the noise vector ``z``.
        base_filters: filters of the last hidden block's input; earlier blocks double it.
        kernel_size: convolution kernel (default 3 for ``upsample``, 4 for ``transpose``).
        upsampling: ``"upsample"`` or ``"transpose"``.
        stem_blocks: stride-1 blocks at the base resolution after the projection (>= 0).
        name: model name.

    Returns:
        Functional model ``float32[batch, latent_dim] -> float32[batch, S, S, C]`` in ``[-1, 1]``.
    """
    _check_channels(channels)
    if upsampling not in DCGAN_UPSAMPLING:
        raise UserError(f"upsampling must be one of {DCGAN_UPSAMPLING}, got {upsampling!r}")
    if isinstance(stem_blocks, bool) or not isinstance(stem_blocks, int) or stem_blocks < 0:
        raise UserError(f"stem_blocks must be an integer >= 0, got {stem_blocks!r}")
    kernel_size = kernel_size or (3 if upsampling == "upsample" else 4)
    base, n = dcgan_base_size(image_size)
    z = keras.Input(shape=(latent_dim,), name="z")
    # each stem block halves the filters, so the projection is 2**stem_blocks wider and the
    # blocks after the stem start from base_filters * 2**(n - 1), as without a stem
    filters = base_filters * 2 ** (n - 1 + stem_blocks)
    x = layers.Dense(base * base * filters, use_bias=False,
                     kernel_initializer=gan_initializer(), name="project")(z)
    x = layers.Reshape((base, base, filters), name="reshape")(x)
    x = layers.BatchNormalization(synchronized=True, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    stem_conv = layers.Conv2D if upsampling == "upsample" else layers.Conv2DTranspose
    for i in range(stem_blocks):
        filters = max(filters // 2, 1)
        x = stem_conv(filters, kernel_size, strides=1, padding="same", use_bias=False,
                      kernel_initializer=gan_initializer(), name=f"stem{i + 1}_conv")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"stem{i + 1}_bn")(x)
        x = layers.ReLU(name=f"stem{i + 1}_relu")(x)
    hidden_blocks = n if upsampling == "upsample" else n - 1
    for i in range(hidden_blocks):
        filters = max(filters // 2, 1)
        if upsampling == "upsample":
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i + 1}_resize")(x)
            x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                              kernel_initializer=gan_initializer(), name=f"up{i + 1}_conv")(x)
        else:
            x = layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same",
                                       use_bias=False, kernel_initializer=gan_initializer(),
                                       name=f"up{i + 1}_conv")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"up{i + 1}_bn")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    if upsampling == "upsample":
        x = layers.Conv2D(channels, kernel_size, padding="same",
                          kernel_initializer=gan_initializer(), name="to_image")(x)
    else:
        x = layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same",
                                   kernel_initializer=gan_initializer(), name="to_image")(x)
    # float32 output even under a mixed-precision policy: tanh saturates badly in float16.
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, images, name=name)


def build_dcgan_discriminator(
    image_size: int = 32,
    channels: int = 3,
    base_filters: int = 64,
    kernel_size: int = 4,
    spectral_norm: bool = False,
    dropout: float = 0.0,
    batch_norm: bool = True,
    name: str = "dcgan_discriminator",
) -> keras.Model:
    """DCGAN discriminator (Radford et al. 2015).

    Stride-2 convolutions (no pooling) with LeakyReLU(0.2), batch norm on every block but the
    first, doubling the filters until the map is at most 7x7, then one linear logit. With
    ``spectral_norm`` every convolution and the logit are spectrally normalized
    (:class:`tfgan_apps.layers.SpectralConv2D`, Miyato et al. 2018) and there is no batch
    norm, as in the paper's SN-DCGAN. ``batch_norm=False`` drops the batch norm alone (the
    convolutions then have biases); ``dropout`` adds a Dropout after each block's LeakyReLU.
    ``kernel_size=5, dropout=0.3, batch_norm=False, base_filters=64`` at 28x28 is the
    TensorFlow DCGAN tutorial's discriminator: convolutions 1 -> 64, 64 -> 128, a dense
    6272 -> 1 (its LeakyReLU slope is Keras's default 0.3, this one 0.2: the same cost).

    Args:
        image_size: input height and width (same rule as the generator).
        channels: 1 or 3.
        base_filters: filters of the first block.
        kernel_size: convolution kernel size.
        spectral_norm: spectrally normalized layers instead of batch norm.
        dropout: rate of the Dropout after each block, in ``[0, 1)`` (0: none, no layer).
        batch_norm: batch norm on the blocks after the first (ignored with ``spectral_norm``,
            which has none).
        name: model name.

    Returns:
        Functional model ``float32[batch, S, S, C]`` in ``[-1, 1]`` -> ``float32[batch, 1]`` logits
        (unbounded; ``sigmoid(logit)`` is D's probability that the input is real).
    """
    _check_channels(channels)
    if isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise UserError(f"dropout must be in [0, 1), got {dropout!r}")
    _, n = dcgan_base_size(image_size)
    conv = SpectralConv2D if spectral_norm else layers.Conv2D
    dense = SpectralDense if spectral_norm else layers.Dense
    images = keras.Input(shape=(image_size, image_size, channels), name="images")
    x = images
    filters = base_filters
    for i in range(n):
        normalize = i > 0 and batch_norm and not spectral_norm
        x = conv(filters, kernel_size, strides=2, padding="same", use_bias=not normalize,
                 kernel_initializer=gan_initializer(), name=f"down{i + 1}_conv")(x)
        if normalize:
            x = layers.BatchNormalization(synchronized=True, name=f"down{i + 1}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"down{i + 1}_dropout")(x)
        filters *= 2
    x = layers.Flatten(name="flatten")(x)
    logits = dense(1, kernel_initializer=gan_initializer(), dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name=name)


# ------------------------------------------------------------------ pix2pix: U-Net and PatchGAN

NORMALIZATIONS = ("batch", "instance", "none")


def _normalization(norm: str, name: str) -> layers.Layer | None:
    """The normalization layer of a conv block, or None for ``norm="none"``.

    ``batch`` is synchronized (statistics of the global batch under a strategy, as in DCGAN);
    ``instance`` is Keras's built-in instance norm, ``GroupNormalization(groups=-1)`` (one group
    per channel: mean and variance over H and W of each image and channel).
    """
    if norm == "batch":
        # momentum 0.9 / epsilon 1e-5 are PyTorch's BatchNorm2d defaults, those of the reference
        # pix2pix code; Keras's 0.99 makes the inference statistics lag far behind early on.
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True,
                                         name=f"{name}_bn")
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=f"{name}_in")
    if norm == "none":
        return None
    raise UserError(f"norm must be one of {NORMALIZATIONS}, got {norm!r}")


def unet_depth(image_size: int) -> int:
    """Number of stride-2 levels of the pix2pix U-Net: ``log2(image_size)`` (down to 1x1).

    32 -> 5, 64 -> 6, 128 -> 7, 256 -> 8 (the paper's U-Net-256).

    Raises:
        UserError: if ``image_size`` is not a power of two >= 32.
    """
    if (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32
            or image_size & (image_size - 1)):
        raise UserError(
            f"image size {image_size!r} is not supported by the U-Net: it must be a power of "
            "two, at least 32 (e.g. 64, 128, 256)"
        )
    return image_size.bit_length() - 1


def build_unet_generator(
    image_size: int = 256,
    input_channels: int = 3,
    output_channels: int = 3,
    base_filters: int = 64,
    norm: str = "batch",
    dropout: float = 0.5,
    output_activation: str | None = "tanh",
    max_filters: int = 512,
    name: str = "unet_generator",
    initializer: str = "normal",
) -> keras.Model:
    """The pix2pix U-Net generator (Isola et al. 2017, https://arxiv.org/abs/1611.07004, 6.1.1).

    Encoder ``C64-C128-C256-C512-C512-...`` (4x4 stride-2 convolutions, LeakyReLU 0.2, no
    normalization on the first block) down to a 1x1 bottleneck, so the depth is
    ``log2(image_size)`` (8 levels at 256, 6 at 64). The decoder mirrors it with 4x4 stride-2
    transposed convolutions and ReLU; each decoder block's output is concatenated with the
    encoder map of the same size (the skip connections), and the first three decoder blocks
    apply dropout (the paper's ``CD512`` blocks). A last transposed convolution maps to
    ``output_channels``. As in the reference implementation, the bottleneck has no
    normalization (a 1x1 map would be zeroed by instance norm). Weights ~ N(0, 0.02) (the
    paper's) or Glorot uniform (``initializer``).

    Dropout is Keras's: active in training only (the paper also keeps it at test time as its
    source of noise; deterministic inference is what segmentation and serving want).

    Args:
        image_size: input/output height and width, a power of two >= 32 (64, 128, 256, ...).
        input_channels: channels of the conditioning image (3 for RGB).
        output_channels: channels of the output: 3 for image translation, K for K-class
            segmentation logits.
        base_filters: filters of the first encoder block (the paper's 64); the others double
            up to ``max_filters``.
        norm: ``"batch"`` (pix2pix; synchronized across replicas), ``"instance"``
            (CycleGAN's U-Net option) or ``"none"``.
        dropout: dropout rate of the first three decoder blocks (0 disables).
        output_activation: ``"tanh"`` for images in [-1, 1]; ``None`` for raw logits
            (segmentation); any Keras activation name otherwise.
        max_filters: cap on the number of filters of a block (the paper's 512).
        name: model name.
        initializer: kernel initialisation of every convolution, ``"normal"`` (N(0, 0.02))
            or ``"glorot"`` (see :func:`unet_initializer`).

    Returns:
        Functional model ``float32[batch, S, S, input_channels]`` in [-1, 1] ->
        ``float32[batch, S, S, output_channels]`` (in [-1, 1] for tanh, unbounded logits for
        ``None``), always float32 even under a mixed-precision policy.
    """
    depth = unet_depth(image_size)
    _normalization(norm, "check")  # validate before building anything
    unet_initializer(initializer)
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"dropout must be in [0, 1), got {dropout!r}")
    images = keras.Input(shape=(image_size, image_size, input_channels), name="images")

    def conv_block(x, filters, index, normalize):
        block = f"down{index}"
        x = layers.Conv2D(filters, 4, strides=2, padding="same",
                          use_bias=not normalize or norm == "none",
                          kernel_initializer=unet_initializer(initializer), name=f"{block}_conv")(x)
        if normalize and norm != "none":
            x = _normalization(norm, block)(x)
        return layers.LeakyReLU(0.2, name=f"{block}_lrelu")(x)

    skips = []
    x = images
    for i in range(depth):
        filters = min(base_filters * 2**i, max_filters)
        # No norm on the first block (paper) nor on the 1x1 bottleneck (reference code).
        x = conv_block(x, filters, i + 1, normalize=0 < i < depth - 1)
        skips.append(x)

    # Decoder: up from the bottleneck; block j doubles the map back to skips[-(j + 2)]'s size.
    for j, skip in enumerate(reversed(skips[:-1])):
        block = f"up{j + 1}"
        filters = int(skip.shape[-1])
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                                   use_bias=norm == "none",
                                   kernel_initializer=unet_initializer(initializer),
                                   name=f"{block}_conv")(x)
        normalization = _normalization(norm, block)
        if normalization is not None:
            x = normalization(x)
        if j < 3 and dropout > 0:
            x = layers.Dropout(dropout, name=f"{block}_dropout")(x)
        x = layers.ReLU(name=f"{block}_relu")(x)
        x = layers.Concatenate(name=f"{block}_skip")([x, skip])

    x = layers.Conv2DTranspose(output_channels, 4, strides=2, padding="same",
                               kernel_initializer=unet_initializer(initializer), dtype="float32",
                               name="to_output")(x)
    if output_activation is not None:
        # float32 even under a mixed-precision policy (tanh saturates badly in float16).
        x = layers.Activation(output_activation, dtype="float32", name=str(output_activation))(x)
    return keras.Model(images, x, name=name)


def build_patch_discriminator(
    image_size: int = 256,
    input_channels: int = 3,
    target_channels: int | None = None,
    base_filters: int = 64,
    n_layers: int = 3,
    norm: str = "batch",
    name: str = "patch_discriminator",
) -> keras.Model:
    """The PatchGAN discriminator of pix2pix and CycleGAN (Isola et al. 2017, 6.1.2).

    ``n_layers`` 4x4 stride-2 convolutions ``C64-C128-C256`` (no normalization on the first),
    then one stride-1 ``C512`` and a stride-1 convolution to one channel, all with
    LeakyReLU(0.2) and filters capped at 8x ``base_filters``. With ``n_layers=3`` every output
    logit sees a 70x70 patch of the input (the paper's default) and a 256x256 input gives a
    30x30 map (stride-1 layers are padded by 1 then unpadded-convolved, as in the reference).
    ``n_layers=1`` is the paper's 16x16 PatchGAN, ``n_layers=4`` its 142x142 one.

    Args:
        image_size: input height and width (>= 2**n_layers * 4, e.g. 32, 64, 256).
        input_channels: channels of the (conditioning) image.
        target_channels: when given, the model is conditional (pix2pix): it takes two inputs,
            the image ``[batch, S, S, input_channels]`` and the target or generated output
            ``[batch, S, S, target_channels]`` (e.g. K one-hot/softmax channels), concatenated
            on channels. When None it takes one image (CycleGAN).
        base_filters: filters of the first layer.
        n_layers: number of stride-2 layers (3 = the 70x70 PatchGAN).
        norm: ``"batch"`` (pix2pix, synchronized), ``"instance"`` (CycleGAN) or ``"none"``.
        name: model name.

    Returns:
        Functional model -> ``float32[batch, P, P, 1]`` patch logits (unbounded;
        ``sigmoid(logit)`` is D's probability that the patch is real), where P is
        ``image_size / 2**n_layers - 2``. Inputs: ``images`` (and ``targets`` when conditional),
        float32 in [-1, 1] (targets: whatever range the generator produces).
    """
    _normalization(norm, "check")
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise UserError(f"n_layers must be a positive integer, got {n_layers!r}")
    if image_size < 4 * 2**n_layers:
        raise UserError(
            f"image size {image_size} is too small for a PatchGAN with n_layers={n_layers}: "
            f"use at least {4 * 2**n_layers} or fewer layers"
        )
    images = keras.Input(shape=(image_size, image_size, input_channels), name="images")
    if target_channels is None:
        inputs = images
        x = images
    else:
        targets = keras.Input(shape=(image_size, image_size, target_channels), name="targets")
        inputs = [images, targets]
        x = layers.Concatenate(name="pair")([images, targets])

    def block(x, filters, strides, index, normalize):
        prefix = f"layer{index}"
        if strides == 1:
            x = layers.ZeroPadding2D(1, name=f"{prefix}_pad")(x)
        x = layers.Conv2D(filters, 4, strides=strides,
                          padding="same" if strides == 2 else "valid",
                          use_bias=not normalize or norm == "none",
                          kernel_initializer=gan_initializer(), name=f"{prefix}_conv")(x)
        if normalize and norm != "none":
            x = _normalization(norm, prefix)(x)
        return layers.LeakyReLU(0.2, name=f"{prefix}_lrelu")(x)

    for i in range(n_layers):
        x = block(x, base_filters * min(2**i, 8), 2, i + 1, normalize=i > 0)
    x = block(x, base_filters * min(2**n_layers, 8), 1, n_layers + 1, normalize=True)
    x = layers.ZeroPadding2D(1, name="logits_pad")(x)
    logits = layers.Conv2D(1, 4, strides=1, padding="valid", kernel_initializer=gan_initializer(),
                           dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


# ------------------------------------------------------------------ CycleGAN: ResNet generator


@keras.saving.register_keras_serializable(package="tfgan_apps")
class ReflectionPadding2D(layers.Layer):
    """Pads the height and width of ``[batch, H, W, C]`` maps by reflection (no edge repeat).

    ``keras.ops.pad(..., mode="reflect")``, i.e. numpy's ``"reflect"``: padding ``[1, 2, 3]`` by
    2 on the left gives ``[3, 2, 1, 2, 3]``. Each padding must be smaller than the padded side.
    CycleGAN pads every convolution this way so that border pixels see image-like statistics
    (zero padding leaves dark frames and checkerboards at the borders).

    Args:
        padding: ``p`` (all four sides), ``(p_h, p_w)`` or ``((top, bottom), (left, right))``.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Input/output: ``[batch, H, W, C]`` -> ``[batch, H + top + bottom, W + left + right, C]``;
    H and W may be unknown (``None``).
    """

    def __init__(self, padding: int | Sequence = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        padding = tuple(padding)
        if len(padding) != 2:
            raise ValueError(f"padding must be p, (p_h, p_w) or ((t, b), (l, r)), got {padding}")
        padding = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
        if any(len(p) != 2 or int(v) < 0 for p in padding for v in p):
            raise ValueError(f"padding must hold non-negative integers, got {padding}")
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)
        self.input_spec = keras.InputSpec(ndim=4)

    def call(self, inputs: Any) -> Any:
        (top, bottom), (left, right) = self.padding
        return keras.ops.pad(
            inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="reflect"
        )

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        batch, height, width, channels = input_shape
        (top, bottom), (left, right) = self.padding
        return (
            batch,
            None if height is None else height + top + bottom,
            None if width is None else width + left + right,
            channels,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


#: normalizations of the ResNet generator
RESNET_NORMALIZATIONS = ("instance", "none")


def default_residual_blocks(image_size: int | None) -> int:
    """CycleGAN's number of residual blocks: 9 for 256x256 and larger, 6 below (paper, 7.2)."""
    return 9 if image_size is not None and image_size >= 256 else 6


def build_resnet_generator(
    image_size: int | None = 256,
    channels: int = 3,
    base_filters: int = 64,
    num_residual_blocks: int | None = None,
    upsampling: str = "transpose",
    fixed_size: bool = False,
    norm: str = "instance",
    name: str = "resnet_generator",
) -> keras.Model:
    """CycleGAN's ResNet generator (Zhu et al. 2017, https://arxiv.org/abs/1703.10593, 7.2).

    ``c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3`` (Johnson et al. 2016's network):

    - ``c7s1-k``: reflection pad 3, 7x7 convolution, instance norm, ReLU;
    - ``dk``: reflection pad 1, 3x3 stride-2 convolution, instance norm, ReLU (the reference
      code zero-pads here; reflection keeps the borders free of dark frames);
    - ``Rk``: ``x + [pad, conv3x3, IN, ReLU, pad, conv3x3, IN](x)``, reflection padded;
    - ``uk``: 3x3 stride-2 transposed convolution, instance norm, ReLU (``upsampling=
      "upsample"`` uses nearest-neighbour 2x upsampling + reflection-padded 3x3 convolution
      instead, which cannot make checkerboard artefacts; not the paper's);
    - a last reflection-padded 7x7 convolution to ``channels`` and tanh (in float32).

    Instance norm is Keras's ``GroupNormalization(groups=-1, epsilon=1e-5)`` (the reference's
    ``InstanceNorm2d`` epsilon): mean and biased variance over H and W per image and channel.
    Unlike the reference (``affine=False``) it keeps a learned per-channel scale and offset,
    initialised to 1 and 0, so the network starts as the reference's and can only gain; the
    convolutions it follows have no bias (instance norm would cancel it). Weights ~ N(0, 0.02).

    ``norm="none"`` drops every instance norm (the convolutions get biases instead). Instance
    norm removes each image's per-channel mean and contrast after the first layer, so the
    generator cannot see an input's absolute colours (e.g. its background's) and must guess
    them; without it they reach the output. Not the paper's.

    The network is fully convolutional: by default it accepts any ``H, W`` that are multiples
    of 4 (other sizes: see :func:`tfgan_apps.inference.translate_any_size`), so a model trained
    at 256x256 translates a 1024x768 photo.

    Args:
        image_size: the training resolution S; only picks the default number of residual
            blocks (and the input shape when ``fixed_size``). Must be a multiple of 4 (>= 8).
        channels: image channels, input and output (1 or 3).
        base_filters: filters of the first layer, ``ngf`` (64 in the paper).
        num_residual_blocks: n; default 9 for ``image_size >= 256``, else 6.
        upsampling: ``"transpose"`` (paper) or ``"upsample"`` (as DCGAN's option).
        fixed_size: build with input shape ``[S, S, C]`` instead of ``[None, None, C]``.
        norm: ``"instance"`` (paper) or ``"none"``.
        name: model name.

    Returns:
        Functional model ``float32[batch, H, W, C]`` in [-1, 1] -> ``float32[batch, H, W, C]``
        in [-1, 1].

    Example:
        >>> g = build_resnet_generator(64, base_filters=32)  # 6 residual blocks
        >>> g(np.zeros((1, 96, 128, 3), "float32")).shape
        TensorShape([1, 96, 128, 3])
    """
    _check_channels(channels)
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int)
        or image_size < 8 or image_size % 4
    ):
        raise UserError(
            f"image size {image_size!r} is not supported by the ResNet generator: it must be a "
            "multiple of 4, at least 8 (it is downsampled twice by 2)"
        )
    if upsampling not in ("transpose", "upsample"):
        raise UserError(f"upsampling must be 'transpose' or 'upsample', got {upsampling!r}")
    if norm not in RESNET_NORMALIZATIONS:
        raise UserError(f"ResNet generator norm must be one of {RESNET_NORMALIZATIONS}, got "
                        f"{norm!r}")
    if fixed_size and image_size is None:
        raise ValueError("fixed_size=True needs an image_size")
    blocks = default_residual_blocks(image_size) if num_residual_blocks is None else int(
        num_residual_blocks)
    if blocks < 0:
        raise UserError(f"num_residual_blocks must be >= 0, got {num_residual_blocks!r}")
    side = image_size if fixed_size else None
    images = keras.Input(shape=(side, side, channels), name="images")

    def conv_norm_relu(x, filters, kernel, strides, prefix, relu=True):
        x = ReflectionPadding2D(kernel // 2, name=f"{prefix}_pad")(x)
        x = layers.Conv2D(filters, kernel, strides=strides, padding="valid",
                          use_bias=norm == "none", kernel_initializer=gan_initializer(),
                          name=f"{prefix}_conv")(x)
        if norm != "none":
            x = _normalization(norm, prefix)(x)
        return layers.ReLU(name=f"{prefix}_relu")(x) if relu else x

    x = conv_norm_relu(images, base_filters, 7, 1, "c7s1")
    filters = base_filters
    for i in range(2):
        filters *= 2
        x = conv_norm_relu(x, filters, 3, 2, f"down{i + 1}")
    for i in range(blocks):
        prefix = f"res{i + 1}"
        y = conv_norm_relu(x, filters, 3, 1, f"{prefix}a")
        y = conv_norm_relu(y, filters, 3, 1, f"{prefix}b", relu=False)
        x = layers.Add(name=f"{prefix}_add")([x, y])
    for i in range(2):
        filters //= 2
        prefix = f"up{i + 1}"
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same",
                                       use_bias=norm == "none",
                                       kernel_initializer=gan_initializer(),
                                       name=f"{prefix}_conv")(x)
            if norm != "none":
                x = _normalization(norm, prefix)(x)
            x = layers.ReLU(name=f"{prefix}_relu")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_resize")(x)
            x = conv_norm_relu(x, filters, 3, 1, prefix)
    x = ReflectionPadding2D(3, name="to_image_pad")(x)
    x = layers.Conv2D(channels, 7, padding="valid", kernel_initializer=gan_initializer(),
                      name="to_image_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(images, outputs, name=name)
