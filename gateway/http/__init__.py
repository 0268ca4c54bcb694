"""The HTTP edge: the app, its state, middleware, routes, the OpenAI wire shapes and error rendering."""
