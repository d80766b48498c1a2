const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value from a URL or a form is a UUID (row ids): anything else is not found, never a query error. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
