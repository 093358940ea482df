"""Automation: the daily schedule and the landing-zone sensor that start the main job by themselves."""
