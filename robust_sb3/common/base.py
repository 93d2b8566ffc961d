"""``save``/``load`` for every robust trainer: files record their algorithm; a bad file is named with what was expected."""

from __future__ import annotations

import io
import json
import pathlib
import pickle
import zipfile
import zlib
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

import torch as th
from stable_baselines3.common.type_aliases import GymEnv

SelfCheckedLoad = TypeVar("SelfCheckedLoad", bound="CheckedLoadMixin")

#: the attribute ``save`` records the saving class's name in (a plain string in the zip's ``data`` JSON)
ALGORITHM_KEY = "_algorithm_name"

#: what reading a damaged zip can raise (truncated: ``BadZipFile``; damaged members: ``zlib.error``, CRC errors)
_DAMAGED_FILE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError)
#: what SB3's ``load`` raises when a file that passed the checks still does not hold what it should
_BAD_CONTENT_ERRORS = (
    KeyError,
    RuntimeError,
    EOFError,
    AssertionError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    zlib.error,
)


def _describe(path: str | pathlib.Path | io.BufferedIOBase) -> str:
    return repr(str(path)) if isinstance(path, str | pathlib.Path) else f"the file object {path!r}"


def _resolve_path(path: str | pathlib.Path, owner: str) -> pathlib.Path:
    """SB3's lookup: the path itself, else the path with ``.zip`` appended. :raises FileNotFoundError: neither exists."""
    candidate = pathlib.Path(path)
    if candidate.is_file():
        return candidate
    with_suffix = pathlib.Path(f"{path}.zip")
    if with_suffix.is_file():
        return with_suffix
    raise FileNotFoundError(f"{owner}.load: no file {str(path)!r} (nor {str(with_suffix)!r}); save one with {owner}.save()")


def read_saved_data(path: str | pathlib.Path | io.BufferedIOBase, owner: str) -> dict[str, Any]:
    """
    Read the ``data`` JSON of an SB3 zip file without unpickling anything, after checking every member's CRC.

    :param path: the file (``.zip`` may be omitted, as for SB3) or a binary file object (rewound afterwards)
    :param owner: the algorithm expected, for the messages
    :return: the JSON object (serialised objects stay in SB3's ``{":type:", ":serialized:"}`` form)
    :raises ValueError: a truncated or corrupt file, or one that is not an SB3 save file; the message names the
        file and the algorithm expected
    """
    name = _describe(path)
    source: Any = _resolve_path(path, owner) if isinstance(path, str | pathlib.Path) else path
    start = source.tell() if hasattr(source, "tell") else 0
    try:
        with zipfile.ZipFile(source) as archive:
            damaged = archive.testzip()
            if damaged is not None:
                raise ValueError(f"its member {damaged!r} fails its CRC check")
            members = archive.namelist()
            missing = [member for member in ("data", "policy.pth") if member not in members]
            if missing:
                raise ValueError(f"it has no {missing} (members: {members})")
            data = json.loads(archive.read("data").decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"its 'data' member is a JSON {type(data).__name__}, not an object")
    except (*_DAMAGED_FILE_ERRORS, ValueError) as error:
        raise ValueError(
            f"Cannot load {owner} from {name}: the file is truncated or corrupt, or not a model saved by {owner}.save() "
            f"({type(error).__name__}: {error})"
        ) from error
    finally:
        if hasattr(source, "seek"):
            source.seek(start)
    return data


def _saved_policy(data: dict[str, Any]) -> str:
    """:return: where the saved policy class comes from (SB3 pickles the class but keeps its ``__module__`` readable)."""
    policy = data.get("policy_class")
    if isinstance(policy, dict) and "__module__" in policy:
        return f"a policy from {policy['__module__']}"
    return "no readable policy class"


class CheckedLoadMixin:
    """
    ``save`` records the algorithm's class name in the file; ``load`` checks the file before SB3 unpickles it.

    SB3's ``load`` on a truncated file, a corrupt one or another algorithm's file fails with errors that name
    neither (``BadZipFile``, ``KeyError: 'robustness'``, a state-dict mismatch). Every robust trainer inherits
    this mixin first, so ``Algo.load(path)`` instead raises a ``ValueError`` that names the file and the
    algorithm expected, and, through :meth:`_check_saved_env`, refuses an env the saved model cannot run on at
    ``load`` rather than at ``learn``.

    Files saved before the class name was recorded are recognised by :attr:`_identifying_attributes`, the
    settings every file of the class holds.
    """

    #: attributes every save file of the class holds (recognises files that do not record the class name)
    _identifying_attributes: ClassVar[tuple[str, ...]] = ()

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """
        SB3's ``save``, recording the class name, so that ``load`` can tell another algorithm's file.

        :param path: where to save (a ``.zip`` is appended when missing, as in SB3)
        :param exclude: attributes not to save
        :param include: attributes to save although excluded by default
        """
        setattr(self, ALGORITHM_KEY, type(self).__name__)
        super().save(path, exclude=exclude, include=include)  # type: ignore[misc]

    @classmethod
    def _check_saved_algorithm(cls, data: dict[str, Any], name: str) -> None:
        """
        :raises ValueError: the file was saved by another algorithm (one not among ``cls`` and its bases)
        """
        saved = data.get(ALGORITHM_KEY)
        accepted = [klass.__name__ for klass in cls.__mro__]
        if isinstance(saved, str):
            if saved not in accepted:
                raise ValueError(
                    f"Cannot load {cls.__name__} from {name}: the file was saved by {saved}, not {cls.__name__}; load it "
                    f"with {saved}.load(), or pass a file saved by {cls.__name__}.save()"
                )
            return
        missing = [attribute for attribute in cls._identifying_attributes if attribute not in data]
        if missing:
            raise ValueError(
                f"Cannot load {cls.__name__} from {name}: the file was not saved by {cls.__name__} (it lacks "
                f"{cls.__name__}'s settings {missing}; it holds {_saved_policy(data)}); "
                "load it with the algorithm that saved it"
            )

    @classmethod
    def _check_saved_env(cls, data: dict[str, Any], env: Any, name: str) -> None:
        """
        Refuse an env the saved model cannot run on, before the model is built (a hook; nothing here).

        :param data: the file's ``data`` JSON (:func:`read_saved_data`)
        :param env: the env passed to ``load``, already a VecEnv
        :param name: what is being done (``"MPO.load('model.zip')"``), for the message
        """

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfCheckedLoad],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfCheckedLoad:
        """
        SB3's ``load``, after checking that the file is whole, was saved by this algorithm and fits ``env``.

        :param path: the file saved by ``save`` (``.zip`` may be omitted) or a binary file object
        :param env: the env to run the loaded model on (``None``: the saved one, if any; enough for ``predict``)
        :param device: torch device
        :param custom_objects: objects replacing saved ones, as in SB3
        :param print_system_info: print the saved and current system info
        :param force_reset: reset the env before training
        :param kwargs: attributes to change on the loaded model
        :return: the model
        :raises FileNotFoundError: no such file
        :raises ValueError: a truncated or corrupt file, another algorithm's file, or an env the model cannot run
            on; each message names the file and the algorithm expected
        """
        name = _describe(path)
        data = read_saved_data(path, cls.__name__)
        cls._check_saved_algorithm(data, name)
        if env is not None:
            env = cls._wrap_env(env, data.get("verbose", 0))  # type: ignore[attr-defined]
            cls._check_saved_env(data, env, f"{cls.__name__}.load({name})")
        try:
            return super().load(  # type: ignore[misc]
                path,
                env=env,
                device=device,
                custom_objects=custom_objects,
                print_system_info=print_system_info,
                force_reset=force_reset,
                **kwargs,
            )
        except _BAD_CONTENT_ERRORS as error:
            raise ValueError(
                f"Cannot load {cls.__name__} from {name}: its contents do not make a {cls.__name__} "
                f"({type(error).__name__}: {error})"
            ) from error
