"""A bounded stack with the operations a code model should learn to write and to test."""

from __future__ import annotations


class BoundedStack:
    """Last in, first out, with a fixed capacity."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: list[object] = []

    def push(self, item: object) -> None:
        if len(self._items) >= self.capacity:
            raise OverflowError("stack is full")
        self._items.append(item)

    def pop(self) -> object:
        if not self._items:
            raise IndexError("pop from an empty stack")
        return self._items.pop()

    def peek(self) -> object:
        if not self._items:
            raise IndexError("peek at an empty stack")
        return self._items[-1]

    def __len__(self) -> int:
        return len(self._items)
