"""The package's user-error types (a leaf: imports nothing).

Raise these where user input is checked (an option value, a path, a dataset name, an image):
the CLI prints exactly these as one line and exits with status 2. Any other exception is a bug
and keeps its traceback. They subclass the built-in a caller would expect (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` keeps working for library users.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with what the user asked for; the message names the bad value and the fix.

    Args:
        message: what is wrong and how to fix it. With ``option`` it reads after the option's
            name (``"must be a positive integer, got 0"``).
        option: the option (config field) at fault, if one is: ``str(error)`` then starts with
            it (``batch_size must be ...``) and the CLI puts the flag's name there instead
            (``--batch-size must be ...``).
        mentions: further options named inside ``message`` as ``{field}`` placeholders
            (``"{data_dir} and {masks_dir} go together"``), filled with the field names by
            ``str()`` and with flag names by the CLI.
    """

    def __init__(self, message: str, option: str | None = None,
                 mentions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.option = option
        self.mentions = tuple(mentions)

    def __str__(self) -> str:
        return self.describe({})

    def describe(self, names: dict[str, str]) -> str:
        """The message with each option called by ``names`` (field -> e.g. a flag name;
        unnamed ones keep their field name)."""
        message = self.message
        if self.mentions:
            message = message.format_map({m: names.get(m, m) for m in self.mentions})
        if self.option:
            message = f"{names.get(self.option, self.option)} {message}"
        return message


class UserPathError(UserError, FileNotFoundError):
    """A path the user gave does not exist (or is of the wrong kind: a file, not a folder)."""


class TrainingDivergedError(UserError):
    """Training produced a non-finite loss, metric or weight (NaN or infinity), usually from too
    high a learning rate; the run stopped before saving anything from the diverged epoch."""
