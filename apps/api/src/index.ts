export { createApp, type AppDeps } from './app.js';
export { startApiServer, type ApiServer } from './server.js';
