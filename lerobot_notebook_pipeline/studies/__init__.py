"""Studies: the questions we answer, their points and cached steps, their results and reports."""
