"""The learn phase: scoring, health, adaptation, simulation, their stages and commands."""
