"""Deployments on this machine: `ferry up`, redeploy, `ferry down [--purge]`.

An environment (azd's word) is a folder under the data folder that holds everything one
deployed app needs: its numbered packages, a Python environment for its requirements, the
platform's store (queues, agents, identity) and the host's keys, logs, and the supervisor's
state. Removing the folder removes the environment.
"""
