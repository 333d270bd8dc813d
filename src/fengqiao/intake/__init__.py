"""Intake: every channel feeds the same cases, once (只进一扇门), with 一事多诉 linked to one case."""
