export { createApp, type AppDeps } from './app.js';
export { buildApi, startApiServer, type ApiServer } from './server.js';
