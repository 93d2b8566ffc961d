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


def _trainer_classes() -> list[type[CheckedLoadMixin]]:
    """:return: every imported subclass of :class:`CheckedLoadMixin`, each once."""
    found: list[type[CheckedLoadMixin]] = []
    pending = list(CheckedLoadMixin.__subclasses__())
    while pending:
        klass = pending.pop()
        if klass not in found:
            found.append(klass)
            pending.extend(klass.__subclasses__())
    return found


class CheckedLoadMixin:
    """
    ``save`` records the algorithm's class name in the file; ``load`` checks the file before SB3 unpickles it.

    SB3's ``load`` on a truncated file, a corrupt one or another algorithm's file fails with errors that name
    neither (``BadZipFile``, ``KeyError: 'robustness'``, a state-dict mismatch). Every robust trainer inherits
    this mixin first, so ``Algo.load(path)`` instead raises a ``ValueError`` that names the file and the
    algorithm expected, and, through :meth:`_check_saved_env`, refuses an env the saved model cannot run on at
    ``load`` rather than at ``learn``.

    Files saved before the class name was recorded are recognised by :attr:`_identifying_attributes`, the
    settings every file of the class holds, and refused when they also hold another trainer's (see
    :meth:`_check_saved_algorithm`).
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
        Refuse a file another algorithm saved, before SB3 unpickles anything.

        A file that records its class (:data:`ALGORITHM_KEY`) must record ``cls``; one recorded by a base class of
        ``cls`` must also hold ``cls``'s settings. A file of the earlier format, which records no class, must hold
        every one of ``cls``'s :attr:`_identifying_attributes` and no other trainer's settings: an MRPO file holds
        every setting EPOpt is recognised by (MRPO adds ``kappa``), so without the second rule ``EPOpt.load`` took
        it silently. The other trainers are those imported (:func:`_trainer_classes`; a trainer's siblings in its
        package are imported with it).

        :param data: the file's ``data`` JSON (:func:`read_saved_data`)
        :param name: the file, as messages name it
        :raises ValueError: the file was saved by another algorithm; the message names the file, the algorithm
            expected and, where the file tells, the one that saved it
        """
        saved = data.get(ALGORITHM_KEY)
        if isinstance(saved, str):
            if saved == cls.__name__:
                return
            if saved not in [klass.__name__ for klass in cls.__mro__[1:]]:
                raise ValueError(
                    f"Cannot load {cls.__name__} from {name}: the file was saved by {saved}, not {cls.__name__}; load it "
                    f"with {saved}.load(), or pass a file saved by {cls.__name__}.save()"
                )
        # a file of the earlier format (or of a base class): recognised by the settings it holds
        missing = [attribute for attribute in cls._identifying_attributes if attribute not in data]
        if missing:
            lacks, held = f"lacks {cls.__name__}'s settings {missing}", f"it holds {_saved_policy(data)}"
            what = (
                f"was saved by {saved}, which {lacks} ({held})"
                if isinstance(saved, str)
                else f"was not saved by {cls.__name__} (it {lacks}; {held})"
            )
            raise ValueError(
                f"Cannot load {cls.__name__} from {name}: the file {what}; load it with the algorithm that saved it"
            )
        if isinstance(saved, str):
            return
        claimant, extra = cls._other_trainer_of(data)
        if claimant is not None:
            raise ValueError(
                f"Cannot load {cls.__name__} from {name}: the file was not saved by {cls.__name__}: it holds "
                f"{claimant.__name__}'s settings {extra}, which {cls.__name__} does not have, so it was saved by "
                f"{claimant.__name__} (the earlier file format does not record the algorithm); load it with "
                f"{claimant.__name__}.load()"
            )

    @classmethod
    def _other_trainer_of(cls, data: dict[str, Any]) -> tuple[type[CheckedLoadMixin] | None, list[str]]:
        """
        :param data: the ``data`` JSON of a file that records no class
        :return: another imported trainer (neither ``cls`` nor one of its bases) whose identifying settings are all
            in ``data`` and include some that ``cls`` is not recognised by (the most specific one), and those settings;
            ``(None, [])`` if there is none
        """
        own = set(cls._identifying_attributes)
        candidates = []
        for klass in _trainer_classes():
            if klass in cls.__mro__ or not klass._identifying_attributes:
                continue
            extra = [attribute for attribute in klass._identifying_attributes if attribute not in own]
            if extra and all(attribute in data for attribute in klass._identifying_attributes):
                candidates.append((len(klass._identifying_attributes), klass.__name__, klass, extra))
        if not candidates:
            return None, []
        *_, klass, extra = max(candidates, key=lambda candidate: candidate[:2])
        return klass, extra

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
