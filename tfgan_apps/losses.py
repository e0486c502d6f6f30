"""Adversarial and reconstruction losses as pure functions.

Adversarial losses come in pairs, ``<name>_generator_loss(fake_output)`` and
``<name>_discriminator_loss(real_output, fake_output)``. Discriminator outputs are raw (logits
for the logistic losses, unbounded scores for least squares) of any shape ``[batch, ...]``
(a single logit for DCGAN, a patch map for PatchGAN); every loss is the mean over all elements,
i.e. the loss of one replica's batch. Scaling for distribution strategies happens in
:class:`tfgan_apps.models.base.AdversarialModel`, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from tfgan_apps.errors import UserError


def non_saturating_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Goodfellow et al. 2014's non-saturating G loss: ``-E[log D(G(z))]``.

    With ``D = sigmoid(logit)``, ``-log sigmoid(l) = softplus(-l)``, which stays numerically
    stable for large logits.
    """
    return tf.reduce_mean(tf.math.softplus(-fake_logits))


def non_saturating_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Logistic D loss ``-E[log D(x)] - E[log(1 - D(G(z)))]``.

    ``= mean(softplus(-real)) + mean(softplus(fake))`` (each term is a binary cross-entropy).
    """
    return tf.reduce_mean(tf.math.softplus(-real_logits)) + tf.reduce_mean(
        tf.math.softplus(fake_logits)
    )


def minimax_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """The original minimax G loss ``E[log(1 - D(G(z)))] = -mean(softplus(fake))``.

    Saturates when D confidently rejects fakes; kept for comparison with the non-saturating
    form.
    """
    return -tf.reduce_mean(tf.math.softplus(fake_logits))


def minimax_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Same discriminator objective as :func:`non_saturating_discriminator_loss`."""
    return non_saturating_discriminator_loss(real_logits, fake_logits)


def least_squares_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """LSGAN G loss (Mao et al. 2017, a=0, b=c=1): ``0.5 * E[(D(G(z)) - 1)^2]``.

    Note: CycleGAN's reference code drops the 0.5; the factor only rescales gradients.
    """
    return 0.5 * tf.reduce_mean(tf.square(fake_scores - 1.0))


def least_squares_discriminator_loss(
    real_scores: tf.Tensor, fake_scores: tf.Tensor
) -> tf.Tensor:
    """LSGAN D loss ``0.5 * E[(D(x) - 1)^2] + 0.5 * E[D(G(z))^2]``."""
    return 0.5 * tf.reduce_mean(tf.square(real_scores - 1.0)) + 0.5 * tf.reduce_mean(
        tf.square(fake_scores)
    )


def hinge_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """Hinge G loss (Lim & Ye 2017; SAGAN, BigGAN): ``-E[D(G(z))]`` on raw scores."""
    return -tf.reduce_mean(fake_scores)


def hinge_discriminator_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """Hinge D loss ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``: no gradient from
    samples D already scores beyond the margin, which keeps D from pushing its scores apart
    without bound."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) + tf.reduce_mean(
        tf.nn.relu(1.0 + fake_scores))


class AdversarialLoss(NamedTuple):
    """A generator/discriminator loss pair and how to read D's output as a probability-like
    score for logging (``sigmoid`` for logistic losses, identity for least squares)."""

    generator: Callable[[tf.Tensor], tf.Tensor]
    discriminator: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    score: Callable[[tf.Tensor], tf.Tensor]


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "non_saturating": AdversarialLoss(
        non_saturating_generator_loss, non_saturating_discriminator_loss, tf.sigmoid
    ),
    "minimax": AdversarialLoss(minimax_generator_loss, minimax_discriminator_loss, tf.sigmoid),
    "least_squares": AdversarialLoss(
        least_squares_generator_loss, least_squares_discriminator_loss, tf.identity
    ),
    "hinge": AdversarialLoss(hinge_generator_loss, hinge_discriminator_loss, tf.identity),
}


def get_adversarial_loss(name: str) -> AdversarialLoss:
    """Look up an adversarial loss pair by name (``non_saturating``, ``minimax``,
    ``least_squares``, ``hinge``).

    Raises:
        UserError: for any other name.
    """
    try:
        return ADVERSARIAL_LOSSES[name]
    except KeyError:
        raise UserError(
            f"unknown adversarial loss {name!r}; choose one of {sorted(ADVERSARIAL_LOSSES)}"
        ) from None


def l1_loss(target: tf.Tensor, prediction: tf.Tensor) -> tf.Tensor:
    """Mean absolute error over all elements (pix2pix's L1 term, CycleGAN's cycle/identity)."""
    return tf.reduce_mean(tf.abs(target - prediction))


def pixel_cross_entropy_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Pixel-wise softmax cross-entropy for segmentation, mean over every pixel of the batch.

    ``-mean_{b,i,j} log softmax(logits[b, i, j])[labels[b, i, j]]`` (pix2pix's reconstruction
    term in segmentation mode: the categorical counterpart of its L1 loss).

    Args:
        labels: integer class ids ``[batch, H, W]`` in ``[0, K)``.
        logits: unnormalized scores ``[batch, H, W, K]`` (computed in float32).
    """
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32)))


def r1_penalty(real_gradients: tf.Tensor) -> tf.Tensor:
    """R1 gradient penalty (Mescheder et al. 2018, eq. 9) without its weight:
    ``0.5 * E_x[ ||grad_x D(x)||^2 ]`` over real images.

    The discriminator's loss adds ``gamma * r1_penalty(...)``, i.e. the paper's
    ``gamma / 2 * E||grad D||^2``; it pulls D's gradient on the data towards zero, which makes
    the GAN converge locally instead of circling the equilibrium.

    Args:
        real_gradients: ``d sum(D(x)) / d x`` for the real batch, ``[batch, H, W, C]``: each
            image's own gradient, since D scores images independently (batch norm aside).
    """
    squared = tf.reduce_sum(tf.square(tf.cast(real_gradients, tf.float32)),
                            axis=tf.range(1, tf.rank(real_gradients)))
    return 0.5 * tf.reduce_mean(squared)


def label_smoothed_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                                      smoothing: float) -> tf.Tensor:
    """Logistic D loss with one-sided label smoothing (Salimans et al. 2016, section 3.4):
    real outputs are pulled towards ``1 - smoothing`` instead of 1, fakes still towards 0.

    ``mean((1 - s) * softplus(-real) + s * softplus(real)) + mean(softplus(fake))``: the binary
    cross-entropy of ``sigmoid(real)`` against the target ``1 - s``, plus that of the fakes
    against 0. Only the real side is smoothed: smoothing the fakes' target would reward D for
    scoring generated samples as partly real where the data has none. ``s = 0`` is
    :func:`non_saturating_discriminator_loss`. D's optimum on a real patch is then
    ``sigmoid(logit) = 1 - s`` rather than an ever larger logit, which keeps its gradients to G
    informative instead of saturated.

    Args:
        real_logits: D's logits on real pairs, any shape ``[batch, ...]`` (PatchGAN: a map).
        fake_logits: D's logits on generated pairs, any shape.
        smoothing: ``s`` in ``[0, 1)``; 0.1 gives the usual 0.9 target.
    """
    real_logits = tf.convert_to_tensor(real_logits)
    s = tf.cast(smoothing, real_logits.dtype)
    real = (1.0 - s) * tf.math.softplus(-real_logits) + s * tf.math.softplus(real_logits)
    return tf.reduce_mean(real) + tf.reduce_mean(tf.math.softplus(fake_logits))
