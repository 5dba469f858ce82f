"""One thin module of tasks per stage. Each task: parse ids, call one service, return."""
