"""`mpr deploy`: the cluster file's nodes over SSH, by rendering an Ansible inventory and playbook and running it."""
