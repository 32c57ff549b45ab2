"""The project portal: server-rendered pages where a project's users manage their webhooks."""
