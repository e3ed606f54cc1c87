"""Modal screens: a yes/no confirmation, a read-only text view, and the help."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static


class ConfirmModal(ModalScreen[bool]):
    """Asks before a destructive action; dismisses with True only on an explicit yes."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 64; height: auto; max-width: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmModal #question { margin-bottom: 1; }
    ConfirmModal Horizontal { height: auto; align-horizontal: right; }
    ConfirmModal Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            with Horizontal():
                yield Button("No (n)", id="no", variant="primary")
                yield Button("Yes (y)", id="yes", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextModal(ModalScreen[None]):
    """A title and a scrollable body (a task's payload and traceback, an explanation)."""

    DEFAULT_CSS = """
    TextModal { align: center middle; }
    TextModal > Vertical {
        width: 90%; height: 85%; border: thick $primary; background: $surface; padding: 0 1;
    }
    TextModal #title { text-style: bold; height: auto; margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close"),
        Binding("c", "cancel_task", "Cancel task"),
    ]

    def __init__(
        self, title: str, body: str, on_cancel: Callable[[], object] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.on_cancel = on_cancel  # a task's view: `c` closes it and asks to cancel the task

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.on_cancel is not None if action == "cancel_task" else True

    def action_cancel_task(self) -> None:
        if self.on_cancel is not None:
            self.dismiss(None)
            self.on_cancel()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="title", markup=False)
            with VerticalScroll():
                yield Static(self.body, id="body", markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class HelpModal(ModalScreen[None]):
    """Every key binding active where help was asked, with what it does."""

    DEFAULT_CSS = """
    HelpModal { align: center middle; }
    HelpModal > Vertical {
        width: 72; max-width: 95%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpModal #title { text-style: bold; height: auto; margin-bottom: 1; }
    HelpModal DataTable { height: 1fr; }
    HelpModal #glossary { height: auto; max-height: 50%; margin-top: 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(
        self,
        where: str,
        bindings: Iterable[tuple[str, str]],
        glossary: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self.where = where
        self.bindings = list(bindings)
        self.glossary = list(glossary)  # what the screen's columns mean

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Keys — {self.where}   (esc closes)", id="title")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            if self.glossary:
                text = Text.assemble(
                    ("Columns\n", "bold"),
                    *[
                        part
                        for name, what in self.glossary
                        for part in ((name, "bold"), f"  {what}\n")
                    ],
                )
                yield VerticalScroll(Static(text), id="glossary")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "does")
        for key, what in self.bindings:
            table.add_row(key, what)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class AskModal(ModalScreen[str | None]):
    """Asks for one line (a task's id); dismisses with it, or None on escape."""

    DEFAULT_CSS = """
    AskModal { align: center middle; }
    AskModal > Vertical {
        width: 72; height: auto; max-width: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, question: str, placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Input(placeholder=self.placeholder, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class PickModal(ModalScreen[str | None]):
    """A table to pick a row from (a worker's tasks): dismisses with the row's key on enter,
    None on escape."""

    DEFAULT_CSS = """
    PickModal { align: center middle; }
    PickModal > Vertical {
        width: 90%; height: 70%; border: thick $primary; background: $surface; padding: 0 1;
    }
    PickModal #title { text-style: bold; height: auto; margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    def __init__(self, title: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> None:
        super().__init__()
        self.title_text = title
        self.columns = columns
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="title")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns(*self.columns)
            for key, cells in self.rows:
                table.add_row(*cells, key=key)
            yield table

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
