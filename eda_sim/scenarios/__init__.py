"""Ready-made worlds the notebooks tell their stories with, one module per lesson.

A notebook calls a scenario to get a simulation in an interesting state (a crash
mid-batch, a storm, a poison event), then shows it with the views. Keeping the
builders here keeps notebook cells short, and lets tests check the stories.
"""
