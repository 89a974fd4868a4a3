"""Kernels on remote hosts: the provisioner jupyter_client drives, kernelspecs, the agent
client, the local side of the relay, environment discovery, profiles, remote kernels."""
