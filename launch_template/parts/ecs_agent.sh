# ECS agent settings.  Appended: Batch adds its own part that appends
# ECS_CLUSTER to the same file, and the agent starts after cloud-init.
mkdir -p /etc/ecs
cat >>/etc/ecs/ecs.config <<'IRONSIDE_ECS_EOF'
@@ECS_CONFIG@@
IRONSIDE_ECS_EOF
