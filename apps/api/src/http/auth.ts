import type { NextFunction, Request, Response } from 'express';
import { AppError, authenticateToken, type Db, type Principal } from '@pulsebridge/core';

export type Role = 'admin' | 'responder';

/** Resolves `Authorization: Bearer <token>` to a principal on `res.locals.principal`. */
export function authenticate(deps: { prisma: Db; adminToken: string }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const header = req.headers.authorization;
      const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) throw new AppError('unauthorized', 'send an API token as `Authorization: Bearer <token>`');
      const principal = await authenticateToken(deps.prisma, match[1], deps.adminToken);
      if (principal === null) throw new AppError('unauthorized', 'the API token is unknown or revoked');
      res.locals.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** Refuses a principal whose role is below `role` (admins may do everything responders may). */
export function requireRole(role: Role) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const principal = res.locals.principal as Principal | undefined;
    if (principal === undefined) return next(new AppError('unauthorized', 'send an API token as `Authorization: Bearer <token>`'));
    if (role === 'admin' && principal.role !== 'admin') return next(new AppError('forbidden', 'this action needs an admin token'));
    next();
  };
}
