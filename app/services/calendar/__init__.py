"""The calendar: what ran, what will run and what was missed, in a window of local days."""
