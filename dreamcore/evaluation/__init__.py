"""The evaluate phase: judging dreams, parsing judges' answers, the evaluate stage and its commands."""
